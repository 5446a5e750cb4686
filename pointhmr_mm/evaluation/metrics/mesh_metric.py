"""MPJPE, PA-MPJPE and MPVE under the METRO/FastMETRO/PointHMR protocols.

Shape shorthand: N full-mesh vertices, J = 14 LSP joints.
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from torch import Tensor

from pointhmr_mm.registry import METRICS
from pointhmr_mm.utils.geometry import similarity_procrustes
from pointhmr_mm.utils.keypoints import H36M_TO_J14, MID_HIP, PELVIS_H36M

PROTOCOLS = ('h36m_p2', '3dpw')
M_TO_MM = 1000.


def _per_point_error(pred: Tensor, gt: Tensor) -> Tensor:
    """(B, K, 3) x 2 -> (B,) mean Euclidean distance."""
    return (pred - gt).norm(dim=-1).mean(dim=-1)


@METRICS.register_module()
class MeshMetric(BaseMetric):
    """Mesh-recovery errors in millimetres.

    - ``h36m_p2``: LSP-14 joints regressed from the predicted mesh against
      the labelled 3D joints, both centred on the mid-hip.
    - ``3dpw``: LSP-14 joints regressed from predicted and (gendered) GT
      meshes, each centred on its H36M pelvis; MPVE on all vertices after
      the same pelvis centring.

    PA-MPJPE aligns each sample by a similarity Procrustes fit. Beside the
    model's errors it reports a **mean-pose baseline**: the constant
    prediction of this split's mean centred GT (``baseline/MPJPE``,
    ``baseline/MPVE``), so a result can be read against "predict the mean".

    Args:
        protocol: Force one protocol; None takes each sample's
            ``eval_protocol`` metainfo.
        collect_device, prefix: as in mmengine's ``BaseMetric``.
    """
    default_prefix = 'mesh'

    def __init__(self, protocol: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if protocol is not None and protocol not in PROTOCOLS:
            raise ValueError(f'protocol must be one of {PROTOCOLS}, got '
                             f'"{protocol}"')
        self.protocol = protocol

    def _centred(self, sample: dict, protocol: str) -> Dict[str, Tensor]:
        pred_h36m = sample['pred_keypoints_3d_h36m'].float()
        pred = pred_h36m[list(H36M_TO_J14)]
        if protocol == 'h36m_p2':
            gt = sample['gt_keypoints_3d'][:, :3].float()
            return dict(
                pred=pred - pred[list(MID_HIP)].mean(0),
                gt=gt - gt[list(MID_HIP)].mean(0))
        if 'gt_keypoints_3d_h36m' not in sample:
            raise KeyError(f'sample {sample.get("sample_idx")}: the 3dpw '
                           'protocol needs gt_keypoints_3d_h36m, regressed '
                           'from the GT mesh (SMPL labels)')
        gt_h36m = sample['gt_keypoints_3d_h36m'].float()
        pred_root, gt_root = pred_h36m[PELVIS_H36M], gt_h36m[PELVIS_H36M]
        out = dict(pred=pred - pred_root,
                   gt=gt_h36m[list(H36M_TO_J14)] - gt_root)
        if 'gt_vertices' in sample:
            out['pred_vertices'] = sample['pred_vertices'].float() - pred_root
            out['gt_vertices'] = sample['gt_vertices'].float() - gt_root
        return out

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            if not isinstance(sample, dict):
                sample = sample.to_dict()
            protocol = self.protocol or sample.get('eval_protocol')
            if protocol not in PROTOCOLS:
                raise ValueError(f'sample {sample.get("sample_idx")} has '
                                 f'eval_protocol={protocol!r}; expected one of'
                                 f' {PROTOCOLS}')
            result = {k: v.cpu() for k, v in
                      self._centred(sample, protocol).items()}
            result['protocol'] = protocol
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        pred = torch.stack([r['pred'] for r in results])
        gt = torch.stack([r['gt'] for r in results])
        metrics = dict(
            MPJPE=_per_point_error(pred, gt).mean().item() * M_TO_MM,
            **{'PA-MPJPE': _per_point_error(
                similarity_procrustes(pred.double(), gt.double()),
                gt.double()).mean().item() * M_TO_MM},
            **{'baseline/MPJPE': _per_point_error(
                gt.mean(0, keepdim=True).expand_as(gt), gt).mean().item() *
               M_TO_MM})
        with_mesh = [r for r in results if 'gt_vertices' in r]
        if with_mesh:
            pv = torch.stack([r['pred_vertices'] for r in with_mesh])
            gv = torch.stack([r['gt_vertices'] for r in with_mesh])
            metrics['MPVE'] = _per_point_error(pv, gv).mean().item() * M_TO_MM
            metrics['baseline/MPVE'] = _per_point_error(
                gv.mean(0, keepdim=True).expand_as(gv), gv).mean().item() * \
                M_TO_MM
        return metrics
