"""Mesh-recovery errors under the protocols papers report, with a mean-pose
baseline: Human3.6M protocol 2 and 3DPW as METRO/FastMETRO/PointHMR
evaluate them (POINTHMR.md §4), 3DPW with gendered GT as SPIN does, and
the official EMDB-1 protocol (eth-ait/emdb ``evaluation_metrics.py``).

Shape shorthand: N full-mesh vertices, J = 14 LSP joints, K = 17 H36M
joints, S = 24 SMPL joints. Inputs are in metres; every reported number is
in millimetres.
"""
import math
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from torch import Tensor

from pointhmr_mm.registry import METRICS, MODELS
from pointhmr_mm.utils.geometry import mpjpe, similarity_procrustes
from pointhmr_mm.utils.keypoints import (H36M17_NAMES, H36M_TO_J14,
                                         LSP14_NAMES, MID_HIP, PELVIS_H36M)

PROTOCOLS = ('h36m_p2', '3dpw', '3dpw_gendered', 'emdb')
# Protocols whose GT mesh has the sample's gender (the others: neutral).
GENDERED = ('3dpw_gendered', 'emdb')
# Reported without a protocol prefix when a run evaluates only one of them
# (the names checkpoints' ``save_best`` and earlier logs use); every other
# protocol always names itself (``3dpw_gendered/MPJPE``).
UNPREFIXED = ('h36m_p2', '3dpw')
# EMDB aligns on the mean of SMPL joints 1 and 2 (left and right hip).
EMDB_HIPS = (1, 2)
NUM_SMPL_JOINTS = 24
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


def similarity_fit(pred: Tensor, gt: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Scale, rotation and translation that best map ``pred`` onto ``gt``
    (least squares, no reflection), as ``x -> scale * x @ rot + shift``.

    ``utils.geometry.similarity_procrustes`` returns only the aligned
    points; EMDB applies the transform fitted on the joints to the
    vertices too (MVE-PA), so the parameters are needed here.

    Args:
        pred: (P, 3).
        gt: (P, 3).

    Returns:
        tuple: scale (), rot (3, 3), shift (3,).
    """
    mu_pred, mu_gt = pred.mean(0), gt.mean(0)
    x, y = pred - mu_pred, gt - mu_gt
    u, sing, vh = torch.linalg.svd(x.T @ y)
    fix = torch.ones_like(sing)
    fix[-1] = torch.sign(torch.linalg.det(u @ vh))
    rot = u @ torch.diag(fix) @ vh
    scale = (sing * fix).sum() / x.pow(2).sum()
    return scale, rot, mu_gt - scale * mu_pred @ rot


@METRICS.register_module()
class MeshMetric(BaseMetric):
    """Mesh-recovery errors in millimetres.

    Per sample it reads ``pred_keypoints_3d_h36m`` (17, 3), regressed from
    the predicted mesh, ``pred_vertices`` (N, 3), and by protocol the GT
    ``gt_keypoints_3d`` (14, 4) (xyz + confidence), ``gt_keypoints_3d_h36m``
    (17, 3) and ``gt_vertices`` (N, 3) from the model's GT mesh, or
    ``gt_pose`` (72,), ``gt_betas`` (10,) and the metainfo ``gender`` for
    the metric's own body model; the protocol is the metainfo
    ``eval_protocol``:

    - ``h36m_p2``: the LSP-14 joints of the prediction (``H36M_TO_J14``)
      against the labelled ``gt_keypoints_3d``, each centred on its own
      mid-hip. Joints with confidence 0 are left out; a sample without both
      hips or with fewer than 3 labelled joints is skipped (and counted in
      the log).
    - ``3dpw`` (METRO's, what PointHMR reports): LSP-14 joints
      (``H36M_TO_J14`` of the H36M regressor) of both meshes, each centred
      on its H36M pelvis; MPVE over all N vertices after the same pelvis
      centring. The GT mesh is the **neutral** body's.
    - ``3dpw_gendered`` (SPIN's, BEDLAM's, CameraHMR's): the same with the
      GT mesh of the sample's **gendered** body.
    - ``emdb`` (EMDB-1, official): the 24 SMPL joints, GT from the
      gendered body's kinematic joints, predicted by the body model's
      ``J_regressor`` on the predicted mesh; both centred on the mean of
      joints 1 and 2 (the hips); MPJPE, MVE; a similarity Procrustes fitted
      on the 24 joints and applied to joints and vertices: PA-MPJPE,
      MVE-PA. Needs ``body_model``.

    With ``body_model`` the metric builds the GT meshes of the ``3dpw``
    protocols itself (neutral or gendered, as the protocol says);
    without it they are the model's ``gt_vertices`` / ``gt_keypoints_3d_h36m``,
    whose gender follows the model's ``gendered_eval``.

    PA-MPJPE aligns each sample with a similarity Procrustes fit. Beside
    the model's errors it reports a **mean-pose baseline**: the constant
    prediction of this split's mean centred GT joints (``baseline/MPJPE``)
    and vertices (``baseline/MPVE``, ``baseline/MVE`` for EMDB). The
    vertex baseline uses every s-th vertex, at most
    ``baseline_max_vertices`` of them. Keys name their protocol
    (``emdb/MVE-PA``), except ``h36m_p2`` and ``3dpw`` when a run
    evaluates only that one protocol (``MPJPE``).

    Args:
        protocol: Force one protocol for all samples; None takes each
            sample's ``eval_protocol``.
        body_model: Config of the body model (``type='SMPL'``, with the
            ``h36m`` joint regressor for the 3DPW protocols), built per
            gender on first use.
        baseline_max_vertices: Vertices kept per sample for the vertex
            baseline; None keeps all of them.
        collect_device: As in mmengine's ``BaseMetric``.
        prefix: As in mmengine's ``BaseMetric`` (default ``'mesh'``).
    """
    default_prefix = 'mesh'

    def __init__(self,
                 protocol: Optional[str] = None,
                 body_model: Optional[dict] = None,
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
        if body_model is not None and not isinstance(body_model, dict):
            raise TypeError('body_model must be a config dict, got '
                            f'{type(body_model).__name__}')
        self.protocol = protocol
        self.body_model = dict(body_model) if body_model else None
        self.baseline_max_vertices = baseline_max_vertices
        self._body_models = {}
        self._unknown_gender = 0

    def _get_body_model(self, gender: str):
        """The metric's body model of ``gender``, built on first use."""
        if gender not in self._body_models:
            model = MODELS.build(dict(self.body_model, gender=gender))
            self._body_models[gender] = model.eval().requires_grad_(False)
        return self._body_models[gender]

    def _gt_meshes(self, samples: List[dict],
                   protocols: List[str]) -> Dict[int, Dict[str, Tensor]]:
        """GT ``vertices`` (N, 3), ``joints`` (24, 3) and, with an h36m
        regressor, ``h36m`` (17, 3) of the samples whose protocol builds
        its GT with the metric's body model, one batch per gender.

        Returns:
            dict: sample position -> its GT.
        """
        wanted = [i for i, p in enumerate(protocols) if p == 'emdb' or (
            p in ('3dpw', '3dpw_gendered') and self.body_model is not None)]
        if wanted and self.body_model is None:
            raise ValueError("MeshMetric: protocol 'emdb' needs "
                             'MeshMetric(body_model=...) (the SMPL config '
                             'the GT joints are built with)')
        by_gender = defaultdict(list)
        for i in wanted:
            gender = 'neutral'
            if protocols[i] in GENDERED:
                gender = str(samples[i].get('gender', 'neutral'))
                if gender not in ('male', 'female'):
                    self._unknown_gender += 1
                    gender = 'neutral'
            by_gender[gender].append(i)
        meshes = {}
        for gender, idx in by_gender.items():
            model = self._get_body_model(gender)
            pose = torch.stack([_tensor(samples[i], 'gt_pose', (72, ))
                                for i in idx]).float()
            betas = torch.stack([_tensor(samples[i], 'gt_betas', (-1, ))
                                 for i in idx]).float()
            with torch.no_grad():
                out = model(pose=pose, betas=betas[:, :model.num_betas])
            for pos, i in enumerate(idx):
                meshes[i] = {k: v[pos].double() for k, v in out.items()}
        return meshes

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

    def _3dpw(self, sample: dict, pred_h36m: Tensor, protocol: str,
              mesh: Optional[Dict[str, Tensor]]) -> dict:
        gt_verts = None
        if mesh is not None:
            if 'h36m' not in mesh:
                raise KeyError("MeshMetric: the body_model needs an 'h36m' "
                               'joint regressor (joint_regressors=dict(h36m='
                               f"...)) for protocol '{protocol}'")
            gt_h36m, gt_verts = mesh['h36m'], mesh['vertices']
        else:
            gt_h36m = _tensor(sample, 'gt_keypoints_3d_h36m',
                              (NUM_H36M, 3))
            if 'gt_vertices' in sample:
                gt_verts = _tensor(sample, 'gt_vertices', (-1, 3))
        pred_root, gt_root = pred_h36m[PELVIS_H36M], gt_h36m[PELVIS_H36M]
        pred = pred_h36m[list(H36M_TO_J14)] - pred_root
        gt = gt_h36m[list(H36M_TO_J14)] - gt_root
        result = _errors(pred, gt)
        result.update(gt_joints=gt.float(),
                      joint_mask=torch.ones(NUM_JOINTS, dtype=torch.bool))
        if gt_verts is not None:
            gt_verts = gt_verts - gt_root
            pred_verts = _tensor(sample, 'pred_vertices',
                                 tuple(gt_verts.shape)) - pred_root
            result['mpve'] = mpjpe(pred_verts[None], gt_verts[None]).item()
            result['gt_vertices'] = self._baseline_vertices(gt_verts)
        return result

    def _emdb(self, sample: dict, mesh: Dict[str, Tensor]) -> dict:
        gt_joints, gt_verts = mesh['joints'], mesh['vertices']
        neutral = self._get_body_model('neutral')
        regressor = neutral.smpl.J_regressor.double()  # (24, N)
        pred_verts = _tensor(sample, 'pred_vertices', tuple(gt_verts.shape))
        pred_joints = regressor @ pred_verts
        hips = list(EMDB_HIPS)
        pred_pelvis, gt_pelvis = (pred_joints[hips].mean(0),
                                  gt_joints[hips].mean(0))
        pred_joints, pred_verts = (pred_joints - pred_pelvis,
                                   pred_verts - pred_pelvis)
        gt_joints, gt_verts = gt_joints - gt_pelvis, gt_verts - gt_pelvis
        scale, rot, shift = similarity_fit(pred_joints, gt_joints)
        dist = lambda a, b: (a - b).norm(dim=-1).mean().item()  # noqa: E731
        return dict(
            mpjpe=dist(pred_joints, gt_joints),
            pa_mpjpe=dist(scale * pred_joints @ rot + shift, gt_joints),
            mve=dist(pred_verts, gt_verts),
            mve_pa=dist(scale * pred_verts @ rot + shift, gt_verts),
            gt_joints=gt_joints.float(),
            joint_mask=torch.ones(NUM_SMPL_JOINTS, dtype=torch.bool),
            gt_vertices=self._baseline_vertices(gt_verts))

    def _baseline_vertices(self, gt_verts: Tensor) -> Tensor:
        stride = 1 if self.baseline_max_vertices is None else math.ceil(
            len(gt_verts) / self.baseline_max_vertices)
        return gt_verts[::stride].float()

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Store each sample's errors (metres) and centred GT.

        Args:
            data_batch: Unused.
            data_samples: Data samples (or their dicts) with the fields
                listed in the class docstring.
        """
        samples = [s if isinstance(s, dict) else s.to_dict()
                   for s in data_samples]
        protocols = [self.protocol or s.get('eval_protocol')
                     for s in samples]
        for sample, protocol in zip(samples, protocols):
            if protocol not in PROTOCOLS:
                raise ValueError(
                    f'MeshMetric: sample {sample.get("sample_idx")} has '
                    f'eval_protocol={protocol!r}; expected one of '
                    f'{PROTOCOLS} (or set MeshMetric(protocol=...))')
        meshes = self._gt_meshes(samples, protocols)
        for i, (sample, protocol) in enumerate(zip(samples, protocols)):
            if protocol == 'emdb':
                result = self._emdb(sample, meshes[i])
            else:
                pred = _tensor(sample, 'pred_keypoints_3d_h36m',
                               (NUM_H36M, 3))
                if protocol == 'h36m_p2':
                    result = self._h36m_p2(sample, pred[list(H36M_TO_J14)])
                else:
                    result = self._3dpw(sample, pred, protocol,
                                        meshes.get(i))
            self.results.append(
                dict(protocol=protocol, skipped=result is None,
                     **(result or {})))

    @staticmethod
    def _summarise(results: List[dict], protocol: str) -> Dict[str, float]:
        """Millimetre metrics of one protocol's evaluated samples."""
        names = (('MPJPE', 'mpjpe'), ('PA-MPJPE', 'pa_mpjpe'), ('MPVE',
                                                                'mpve'),
                 ('MVE', 'mve'), ('MVE-PA', 'mve_pa'))
        metrics = {}
        for name, key in names:
            values = [r[key] for r in results if key in r]
            if values:
                metrics[name] = sum(values) / len(values) * M_TO_MM
        gt = torch.stack([r['gt_joints'] for r in results]).double()
        mask = torch.stack([r['joint_mask'] for r in results]).double()
        # per-joint mean over the samples that label the joint
        mean = (gt * mask[..., None]).sum(0) / mask.sum(0).clamp_min(1)[:,
                                                                        None]
        dist = (gt - mean).norm(dim=-1) * mask
        metrics['baseline/MPJPE'] = (
            (dist.sum(1) / mask.sum(1)).mean().item() * M_TO_MM)
        meshes = [r['gt_vertices'] for r in results if 'gt_vertices' in r]
        if meshes:
            verts = torch.stack(meshes).double()
            name = 'MVE' if protocol == 'emdb' else 'MPVE'
            metrics[f'baseline/{name}'] = (
                (verts - verts.mean(0)).norm(dim=-1).mean().item() * M_TO_MM)
        return metrics

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Average the stored errors per protocol (over all samples
        pooled, as the EMDB authors do).

        Returns:
            dict: ``MPJPE``, ``PA-MPJPE``, ``baseline/MPJPE`` and, with
            meshes, ``MPVE`` and ``baseline/MPVE`` (EMDB: ``MVE``,
            ``MVE-PA``, ``baseline/MVE``), in mm; prefixed by the protocol
            unless it is the run's only protocol and one of ``h36m_p2`` /
            ``3dpw``.
        """
        groups = defaultdict(list)
        skipped = 0
        for result in results:
            if result['skipped']:
                skipped += 1
            else:
                groups[result['protocol']].append(result)
        logger = MMLogger.get_current_instance()
        if skipped:
            logger.warning(
                f'MeshMetric: {skipped} of {len(results)} samples have too '
                'few labelled 3D joints (both hips and at least '
                f'{MIN_PA_JOINTS}) and were left out')
        if self._unknown_gender:
            logger.warning(f'MeshMetric: {self._unknown_gender} samples of '
                           'a gendered protocol have no male/female gender; '
                           'their GT used the neutral body')
            self._unknown_gender = 0
        if not groups:
            raise ValueError(f'MeshMetric: none of the {len(results)} '
                             'samples has labels to evaluate')
        metrics = {}
        for protocol, group in groups.items():
            alone = len(groups) == 1 and protocol in UNPREFIXED
            scope = '' if alone else f'{protocol}/'
            metrics.update({
                scope + k: v
                for k, v in self._summarise(group, protocol).items()
            })
        return metrics
