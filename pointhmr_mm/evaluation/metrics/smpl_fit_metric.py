"""How closely the fitted SMPL parameters reproduce the predicted meshes.

Needs no labels: it reads ``pred_smpl_mpve_fit`` (metres), the mean
distance between the re-posed SMPL mesh and the predicted mesh, which the
estimator adds with ``test_cfg.fit_smpl=True``. Reported in millimetres.
"""
from typing import Dict, List, Sequence

import torch
from mmengine.evaluator import BaseMetric

from pointhmr_mm.registry import METRICS

FIELD = 'pred_smpl_mpve_fit'
M_TO_MM = 1000.
WORST_QUANTILE = 0.95


@METRICS.register_module()
class SMPLFitMetric(BaseMetric):
    """MPVE-fit: SMPL-parameter fit error of the predictions, in mm.

    Keys: ``MPVE-fit`` (mean over samples), ``MPVE-fit/p95`` (95th
    percentile) and ``MPVE-fit/max``. Use it beside ``MeshMetric``, e.g.
    ``test_evaluator=[dict(type='MeshMetric'), dict(type='SMPLFitMetric')]``
    with ``model.test_cfg.fit_smpl=True``.

    Args:
        collect_device: As in mmengine's ``BaseMetric``.
        prefix: As in mmengine's ``BaseMetric`` (default ``'smpl'``).
    """
    default_prefix = 'smpl'

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Store each sample's MPVE-fit (metres)."""
        for sample in data_samples:
            if not isinstance(sample, dict):
                sample = sample.to_dict()
            if FIELD not in sample:
                raise KeyError(
                    f'SMPLFitMetric: sample {sample.get("sample_idx")} has '
                    f'no {FIELD}; set model.test_cfg.fit_smpl=True')
            value = torch.as_tensor(sample[FIELD]).float()
            if value.numel() != 1:
                raise ValueError(f'SMPLFitMetric: {FIELD} must be a scalar, '
                                 f'got shape {tuple(value.shape)}')
            self.results.append(value.item())

    def compute_metrics(self, results: List[float]) -> Dict[str, float]:
        """Mean, 95th percentile and maximum MPVE-fit in mm."""
        if not results:
            raise ValueError('SMPLFitMetric: no samples')
        errors = torch.tensor(results, dtype=torch.float64) * M_TO_MM
        return {
            'MPVE-fit': errors.mean().item(),
            'MPVE-fit/p95': errors.quantile(WORST_QUANTILE).item(),
            'MPVE-fit/max': errors.max().item(),
        }
