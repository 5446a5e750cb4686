"""MPJPE, PA-MPJPE and MPVE under the METRO/FastMETRO/PointHMR protocols
(POINTHMR.md §4), with a mean-pose baseline.

Shape shorthand: N full-mesh vertices, J = 14 LSP joints, K = 17 H36M
joints. Inputs are in metres; every reported number is in millimetres.
"""
import math
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from torch import Tensor

from pointhmr_mm.registry import METRICS
from pointhmr_mm.utils.geometry import mpjpe, similarity_procrustes
from pointhmr_mm.utils.keypoints import (H36M17_NAMES, H36M_TO_J14,
                                         LSP14_NAMES, MID_HIP, PELVIS_H36M)

PROTOCOLS = ('h36m_p2', '3dpw')
M_TO_MM = 1000.
NUM_JOINTS = len(LSP14_NAMES)
NUM_H36M = len(H36M17_NAMES)
# A similarity Procrustes fit needs at least three points.
MIN_PA_JOINTS = 3
# The baseline needs every sample's GT mesh at once; keeping at most this
# many (evenly strided) vertices per sample bounds the memory on large test
# sets (3DPW test: 35k samples x 500 x 3 float32 = 0.2 GB).
DEFAULT_BASELINE_VERTICES = 500


def _tensor(sample: dict, key: str, shape: Sequence[int]) -> Tensor:
    """``sample[key]`` as a float64 CPU tensor of ``shape`` (-1: any)."""
    if key not in sample:
        raise KeyError(f'MeshMetric: sample {sample.get("sample_idx")} has '
                       f'no "{key}"')
    value = torch.as_tensor(sample[key]).detach().cpu().double()
    if value.dim() != len(shape) or any(
            s != -1 and s != v for s, v in zip(shape, value.shape)):
        raise ValueError(f'MeshMetric: "{key}" of sample '
                         f'{sample.get("sample_idx")} has shape '
                         f'{tuple(value.shape)}, expected {tuple(shape)}')
    return value


def _errors(pred: Tensor, gt: Tensor) -> Dict[str, float]:
    """(P, 3) x 2 centred joints -> MPJPE and PA-MPJPE in metres."""
    aligned = similarity_procrustes(pred[None], gt[None])
    return dict(mpjpe=mpjpe(pred[None], gt[None]).item(),
                pa_mpjpe=mpjpe(aligned, gt[None]).item())


@METRICS.register_module()
class MeshMetric(BaseMetric):
    """Mesh-recovery errors in millimetres.

    Per sample it reads ``pred_keypoints_3d_h36m`` (17, 3), regressed from
    the predicted mesh, ``pred_vertices`` (N, 3), the GT
    ``gt_keypoints_3d`` (14, 4) (xyz + confidence), ``gt_keypoints_3d_h36m``
    (17, 3) and ``gt_vertices`` (N, 3) from the GT mesh, and the metainfo
    ``eval_protocol``:

    - ``h36m_p2``: the LSP-14 joints of the prediction (``H36M_TO_J14``)
      against the labelled ``gt_keypoints_3d``, each centred on its own
      mid-hip. Joints with confidence 0 are left out; a sample without both
      hips or with fewer than 3 labelled joints is skipped (and counted in
      the log).
    - ``3dpw``: LSP-14 joints of both meshes, each centred on its H36M
      pelvis; MPVE over all N vertices after the same pelvis centring.

    PA-MPJPE aligns each sample with a similarity Procrustes fit. Beside
    the model's errors it reports a **mean-pose baseline**: the constant
    prediction of this split's mean centred GT joints (``baseline/MPJPE``)
    and vertices (``baseline/MPVE``), so a result can be read against
    "predict the mean pose". The vertex baseline uses every s-th vertex,
    at most ``baseline_max_vertices`` of them. With samples of several
    protocols, every key is prefixed by its protocol (``3dpw/MPJPE``).

    Args:
        protocol: Force one protocol for all samples; None takes each
            sample's ``eval_protocol``.
        baseline_max_vertices: Vertices kept per sample for
            ``baseline/MPVE``; None keeps all of them.
        collect_device: As in mmengine's ``BaseMetric``.
        prefix: As in mmengine's ``BaseMetric`` (default ``'mesh'``).
    """
    default_prefix = 'mesh'

    def __init__(self,
                 protocol: Optional[str] = None,
                 baseline_max_vertices: Optional[int] = (
                     DEFAULT_BASELINE_VERTICES),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if protocol is not None and protocol not in PROTOCOLS:
            raise ValueError(f'protocol must be one of {PROTOCOLS} or None, '
                             f'got {protocol!r}')
        if baseline_max_vertices is not None and baseline_max_vertices < 1:
            raise ValueError('baseline_max_vertices must be positive or '
                             f'None, got {baseline_max_vertices}')
        self.protocol = protocol
        self.baseline_max_vertices = baseline_max_vertices

    def _h36m_p2(self, sample: dict, pred: Tensor) -> Optional[dict]:
        gt_full = _tensor(sample, 'gt_keypoints_3d', (NUM_JOINTS, 4))
        mask = gt_full[:, 3] > 0
        hips = list(MID_HIP)
        if not mask[hips].all() or mask.sum() < MIN_PA_JOINTS:
            return None
        pred = pred - pred[hips].mean(0)
        gt = gt_full[:, :3] - gt_full[hips, :3].mean(0)
        result = _errors(pred[mask], gt[mask])
        result.update(gt_joints=gt.float(), joint_mask=mask)
        return result

    def _3dpw(self, sample: dict, pred_h36m: Tensor) -> dict:
        gt_h36m = _tensor(sample, 'gt_keypoints_3d_h36m', (NUM_H36M, 3))
        pred_root, gt_root = pred_h36m[PELVIS_H36M], gt_h36m[PELVIS_H36M]
        pred = pred_h36m[list(H36M_TO_J14)] - pred_root
        gt = gt_h36m[list(H36M_TO_J14)] - gt_root
        result = _errors(pred, gt)
        result.update(gt_joints=gt.float(),
                      joint_mask=torch.ones(NUM_JOINTS, dtype=torch.bool))
        if 'gt_vertices' in sample:
            gt_verts = _tensor(sample, 'gt_vertices', (-1, 3)) - gt_root
            pred_verts = _tensor(sample, 'pred_vertices',
                                 tuple(gt_verts.shape)) - pred_root
            result['mpve'] = mpjpe(pred_verts[None], gt_verts[None]).item()
            stride = 1 if self.baseline_max_vertices is None else math.ceil(
                len(gt_verts) / self.baseline_max_vertices)
            result['gt_vertices'] = gt_verts[::stride].float()
        return result

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Store each sample's errors (metres) and centred GT.

        Args:
            data_batch: Unused.
            data_samples: Data samples (or their dicts) with the fields
                listed in the class docstring.
        """
        for sample in data_samples:
            if not isinstance(sample, dict):
                sample = sample.to_dict()
            protocol = self.protocol or sample.get('eval_protocol')
            if protocol not in PROTOCOLS:
                raise ValueError(
                    f'MeshMetric: sample {sample.get("sample_idx")} has '
                    f'eval_protocol={protocol!r}; expected one of '
                    f'{PROTOCOLS} (or set MeshMetric(protocol=...))')
            pred = _tensor(sample, 'pred_keypoints_3d_h36m', (NUM_H36M, 3))
            if protocol == 'h36m_p2':
                result = self._h36m_p2(sample, pred[list(H36M_TO_J14)])
            else:
                result = self._3dpw(sample, pred)
            self.results.append(
                dict(protocol=protocol, skipped=result is None,
                     **(result or {})))

    @staticmethod
    def _summarise(results: List[dict]) -> Dict[str, float]:
        """Millimetre metrics of one protocol's evaluated samples."""
        metrics = {
            name: sum(r[key] for r in results) / len(results) * M_TO_MM
            for name, key in (('MPJPE', 'mpjpe'), ('PA-MPJPE', 'pa_mpjpe'))
        }
        gt = torch.stack([r['gt_joints'] for r in results]).double()
        mask = torch.stack([r['joint_mask'] for r in results]).double()
        # per-joint mean over the samples that label the joint
        mean = (gt * mask[..., None]).sum(0) / mask.sum(0).clamp_min(1)[:,
                                                                        None]
        dist = (gt - mean).norm(dim=-1) * mask
        metrics['baseline/MPJPE'] = (
            (dist.sum(1) / mask.sum(1)).mean().item() * M_TO_MM)
        meshes = [r for r in results if 'mpve' in r]
        if meshes:
            metrics['MPVE'] = (sum(r['mpve'] for r in meshes) / len(meshes) *
                               M_TO_MM)
            verts = torch.stack([r['gt_vertices'] for r in meshes]).double()
            metrics['baseline/MPVE'] = (
                (verts - verts.mean(0)).norm(dim=-1).mean().item() * M_TO_MM)
        return metrics

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Average the stored errors per protocol.

        Returns:
            dict: ``MPJPE``, ``PA-MPJPE``, ``baseline/MPJPE`` and, with
            meshes, ``MPVE`` and ``baseline/MPVE``, in mm; prefixed by the
            protocol when the samples mix protocols.
        """
        groups = defaultdict(list)
        skipped = 0
        for result in results:
            if result['skipped']:
                skipped += 1
            else:
                groups[result['protocol']].append(result)
        if skipped:
            MMLogger.get_current_instance().warning(
                f'MeshMetric: {skipped} of {len(results)} samples have too '
                'few labelled 3D joints (both hips and at least '
                f'{MIN_PA_JOINTS}) and were left out')
        if not groups:
            raise ValueError(f'MeshMetric: none of the {len(results)} '
                             'samples has labels to evaluate')
        metrics = {}
        for protocol, group in groups.items():
            scope = f'{protocol}/' if len(groups) > 1 else ''
            metrics.update({
                scope + k: v
                for k, v in self._summarise(group).items()
            })
        return metrics
