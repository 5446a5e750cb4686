import numpy as np
import pytest
import torch

from pointhmr_mm.evaluation import MeshMetric
from pointhmr_mm.utils.geometry import axis_angle_to_matrix
from pointhmr_mm.utils.keypoints import H36M_TO_J14


def sample(pred_h36m, gt_h36m, protocol='3dpw', pred_v=None, gt_v=None):
    gt14 = gt_h36m[list(H36M_TO_J14)]
    s = dict(pred_keypoints_3d_h36m=pred_h36m, eval_protocol=protocol,
             gt_keypoints_3d=torch.cat([gt14, torch.ones(14, 1)], 1),
             gt_keypoints_3d_h36m=gt_h36m)
    if pred_v is not None:
        s.update(pred_vertices=pred_v, gt_vertices=gt_v)
    return s


def evaluate(samples, **kwargs):
    metric = MeshMetric(**kwargs)
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def numpy_pa_mpjpe(pred, gt):
    errors = []
    for p, g in zip(pred, gt):
        p0, g0 = p - p.mean(0), g - g.mean(0)
        u, s, vt = np.linalg.svd(p0.T @ g0)
        d = np.diag([1, 1, np.sign(np.linalg.det(u @ vt))])
        r = u @ d @ vt
        scale = np.trace(np.diag(s) @ d) / (p0**2).sum()
        errors.append(np.linalg.norm(scale * p0 @ r + g.mean(0) - g,
                                     axis=1).mean())
    return 1000 * np.mean(errors)


def test_similarity_copy_has_zero_pa_mpjpe():
    torch.manual_seed(0)
    gt = torch.randn(17, 3) * 0.3
    rot = axis_angle_to_matrix(torch.tensor([0.4, -0.3, 0.9]))
    pred = 1.3 * gt @ rot.T + torch.tensor([0.5, 0.1, 2.])
    out = evaluate([sample(pred, gt)])
    assert out['PA-MPJPE'] == pytest.approx(0, abs=1e-3)  # mm, float32
    assert out['MPJPE'] > 50


def test_translation_vanishes_and_units_are_mm():
    gt = torch.randn(17, 3) * 0.3
    verts = torch.randn(30, 3)
    out = evaluate([sample(gt + 5., gt, pred_v=verts + 5., gt_v=verts)])
    assert out['MPJPE'] == pytest.approx(0, abs=1e-3)
    assert out['MPVE'] == pytest.approx(0, abs=1e-3)
    shifted = gt.clone()
    shifted[list(H36M_TO_J14)[0]] += torch.tensor([0.014, 0., 0.])
    out = evaluate([sample(shifted, gt, protocol='h36m_p2')])
    # one of 14 joints off by 14 mm (the root is the mid-hip, unaffected)
    assert out['MPJPE'] == pytest.approx(1.0, abs=1e-4)


def test_pa_mpjpe_matches_numpy_and_baseline_by_hand():
    torch.manual_seed(1)
    gts = [torch.randn(17, 3) * 0.3 for _ in range(3)]
    preds = [g + 0.05 * torch.randn(17, 3) for g in gts]
    out = evaluate([sample(p, g) for p, g in zip(preds, gts)])
    cent = lambda h: (h[list(H36M_TO_J14)] - h[0]).numpy()  # noqa: E731
    ref = numpy_pa_mpjpe(np.stack([cent(p) for p in preds]),
                         np.stack([cent(g) for g in gts]))
    assert out['PA-MPJPE'] == pytest.approx(ref, rel=1e-5)
    g = np.stack([cent(g) for g in gts])
    baseline = 1000 * np.linalg.norm(g - g.mean(0), axis=-1).mean()
    assert out['baseline/MPJPE'] == pytest.approx(baseline, rel=1e-5)


def test_bad_protocol_and_missing_mesh():
    with pytest.raises(ValueError, match='protocol'):
        MeshMetric(protocol='coco')
    gt = torch.zeros(17, 3)
    bad = sample(gt, gt, protocol=None)
    with pytest.raises(ValueError, match='eval_protocol'):
        evaluate([bad])
    no_mesh = sample(gt, gt)
    del no_mesh['gt_keypoints_3d_h36m']
    with pytest.raises(KeyError):
        evaluate([no_mesh])
