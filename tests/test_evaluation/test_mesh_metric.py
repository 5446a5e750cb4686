import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement

from pointhmr_mm.evaluation import MeshMetric
from pointhmr_mm.registry import METRICS
from pointhmr_mm.utils.geometry import axis_angle_to_matrix
from pointhmr_mm.utils.keypoints import H36M_TO_J14

J14 = list(H36M_TO_J14)
HIPS = [2, 3]
# float32 inputs of a few metres round to about 1e-4 mm
FLOAT32_MM = 1e-3


def make_sample(pred_h36m, gt_h36m, protocol='3dpw', pred_v=None, gt_v=None,
                idx=0):
    """A prediction dict as the estimator's ``predict`` leaves it."""
    gt14 = gt_h36m[J14]
    s = dict(pred_keypoints_3d_h36m=pred_h36m, eval_protocol=protocol,
             gt_keypoints_3d=torch.cat([gt14, torch.ones(14, 1)], 1),
             gt_keypoints_3d_h36m=gt_h36m, sample_idx=idx)
    if pred_v is not None:
        s.update(pred_vertices=pred_v, gt_vertices=gt_v)
    return s


def evaluate(samples, **kwargs):
    metric = MeshMetric(**kwargs)
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def numpy_procrustes_error(p, g):
    """Independent similarity Procrustes (Umeyama) in numpy, metres."""
    p0, g0 = p - p.mean(0), g - g.mean(0)
    u, s, vt = np.linalg.svd(p0.T @ g0)
    d = np.diag([1, 1, np.sign(np.linalg.det(u @ vt))])
    r = u @ d @ vt
    scale = np.trace(np.diag(s) @ d) / (p0**2).sum()
    return np.linalg.norm(scale * p0 @ r + g.mean(0) - g, axis=1).mean()


def pelvis_centred_j14(h36m):
    return (h36m[J14] - h36m[0]).numpy().astype(np.float64)


def test_builds_and_refuses_bad_arguments():
    metric = METRICS.build(dict(type='MeshMetric', protocol='3dpw'))
    assert metric.prefix == 'mesh'
    with pytest.raises(ValueError, match='protocol'):
        MeshMetric(protocol='coco')
    with pytest.raises(ValueError, match='baseline_max_vertices'):
        MeshMetric(baseline_max_vertices=0)


def test_similarity_copy_has_zero_pa_mpjpe():
    torch.manual_seed(0)
    gt = torch.randn(17, 3) * 0.3
    rot = axis_angle_to_matrix(torch.tensor([0.4, -0.3, 0.9]))
    pred = 1.3 * gt @ rot.T + torch.tensor([0.5, 0.1, 2.])
    for protocol in ('3dpw', 'h36m_p2'):
        out = evaluate([make_sample(pred, gt, protocol)])
        assert out['PA-MPJPE'] == pytest.approx(0, abs=FLOAT32_MM)
        assert out['MPJPE'] > 50


def test_translation_vanishes_after_centring_and_units_are_mm():
    torch.manual_seed(1)
    gt = torch.randn(17, 3) * 0.3
    verts = torch.randn(30, 3)
    shift = torch.tensor([5., -1., 3.])
    for protocol in ('3dpw', 'h36m_p2'):
        out = evaluate([make_sample(gt + shift, gt, protocol,
                                    verts + shift, verts)])
        assert out['MPJPE'] == pytest.approx(0, abs=FLOAT32_MM)
    assert evaluate([make_sample(gt + shift, gt, pred_v=verts + shift,
                                 gt_v=verts)])['MPVE'] == pytest.approx(
                                     0, abs=FLOAT32_MM)
    # one of 14 LSP joints (the right ankle, not a hip) 14 mm off: 1 mm
    moved = gt.clone()
    moved[J14[0], 0] += 0.014
    out = evaluate([make_sample(moved, gt, 'h36m_p2')])
    assert out['MPJPE'] == pytest.approx(1.0, abs=FLOAT32_MM)
    # every vertex 2 cm off, the pelvis fixed: MPVE 20 mm
    out = evaluate([make_sample(gt, gt, pred_v=verts + torch.tensor(
        [0., 0.02, 0.]), gt_v=verts)])
    assert out['MPVE'] == pytest.approx(20., abs=1e-4)


def test_h36m_centres_on_mid_hip_and_3dpw_on_pelvis():
    torch.manual_seed(2)
    gt = torch.randn(17, 3) * 0.3
    pred = gt.clone()
    pred[0] += torch.tensor([0.1, 0., 0.])  # only the H36M pelvis moves
    # the mid-hip protocol ignores the pelvis; 3DPW shifts every joint
    assert evaluate([make_sample(pred, gt, 'h36m_p2')])['MPJPE'] == \
        pytest.approx(0, abs=1e-6)
    assert evaluate([make_sample(pred, gt, '3dpw')])['MPJPE'] == \
        pytest.approx(100., abs=1e-3)


def test_pa_mpjpe_and_mpjpe_match_numpy():
    torch.manual_seed(3)
    gts = [torch.randn(17, 3) * 0.3 for _ in range(3)]
    preds = [g + 0.05 * torch.randn(17, 3) for g in gts]
    out = evaluate([make_sample(p, g) for p, g in zip(preds, gts)])
    p = [pelvis_centred_j14(x) for x in preds]
    g = [pelvis_centred_j14(x) for x in gts]
    pa = 1000 * np.mean([numpy_procrustes_error(a, b) for a, b in zip(p, g)])
    mp = 1000 * np.mean([np.linalg.norm(a - b, axis=1).mean()
                         for a, b in zip(p, g)])
    assert out['PA-MPJPE'] == pytest.approx(pa, rel=1e-6)
    assert out['MPJPE'] == pytest.approx(mp, rel=1e-6)
    assert out['PA-MPJPE'] < out['MPJPE']


def test_baseline_equals_a_hand_computation_on_three_samples():
    torch.manual_seed(4)
    gts = [torch.randn(17, 3) * 0.3 for _ in range(3)]
    verts = [torch.randn(30, 3) for _ in range(3)]
    samples = [make_sample(g, g, pred_v=v, gt_v=v) for g, v in zip(gts,
                                                                   verts)]
    out = evaluate(samples, baseline_max_vertices=None)
    joints = np.stack([pelvis_centred_j14(g) for g in gts])
    mean = joints.mean(0)
    by_hand = np.mean([np.linalg.norm(j - mean, axis=1).mean()
                       for j in joints]) * 1000
    assert out['baseline/MPJPE'] == pytest.approx(by_hand, rel=1e-6)
    vc = np.stack([(v - g[0]).numpy() for v, g in zip(verts, gts)])
    by_hand_v = np.linalg.norm(vc - vc.mean(0), axis=-1).mean() * 1000
    assert out['baseline/MPVE'] == pytest.approx(by_hand_v, rel=1e-6)
    assert out['MPJPE'] == pytest.approx(0) and out['MPVE'] == \
        pytest.approx(0)
    # a strided subset of the vertices: every 3rd when at most 10 are kept
    sub = evaluate(samples, baseline_max_vertices=10)['baseline/MPVE']
    vs = vc[:, ::3]
    assert sub == pytest.approx(
        np.linalg.norm(vs - vs.mean(0), axis=-1).mean() * 1000, rel=1e-6)


def test_unlabelled_joints_are_left_out_and_empty_samples_skipped():
    torch.manual_seed(5)
    gt = torch.randn(17, 3) * 0.3
    pred = gt.clone()
    pred[J14[13]] += 1.  # head top far off...
    sample = make_sample(pred, gt, 'h36m_p2')
    sample['gt_keypoints_3d'][13, 3] = 0.  # ...but unlabelled
    no_hips = make_sample(pred, gt, 'h36m_p2', idx=1)
    no_hips['gt_keypoints_3d'][HIPS[0], 3] = 0.
    metric = MeshMetric()
    metric.process({}, [sample, no_hips])
    out = metric.compute_metrics(metric.results)
    assert out['MPJPE'] == pytest.approx(0, abs=1e-6)
    assert sum(r['skipped'] for r in metric.results) == 1
    with pytest.raises(ValueError, match='none of the 1 samples'):
        evaluate([no_hips])


def test_protocols_from_metainfo_forced_or_mixed():
    torch.manual_seed(6)
    gt = torch.randn(17, 3) * 0.3
    pred = gt + 0.01 * torch.randn(17, 3)
    mixed = evaluate([make_sample(pred, gt, '3dpw'),
                      make_sample(pred, gt, 'h36m_p2')])
    assert {'3dpw/MPJPE', 'h36m_p2/MPJPE', '3dpw/baseline/MPJPE'} <= set(
        mixed)
    forced = evaluate([make_sample(pred, gt, 'h36m_p2')], protocol='3dpw')
    assert forced['MPJPE'] == pytest.approx(mixed['3dpw/MPJPE'])


def test_data_elements_and_mmengine_evaluate_prefix():
    torch.manual_seed(7)
    gt = torch.randn(17, 3) * 0.3
    verts = torch.randn(12, 3)
    element = BaseDataElement(metainfo=dict(eval_protocol='3dpw',
                                            sample_idx=0))
    element.set_data({k: v for k, v in make_sample(
        gt + 0.01, gt, pred_v=verts + 0.01, gt_v=verts).items()
        if isinstance(v, torch.Tensor)})
    metric = MeshMetric()
    metric.process({}, [element, element])
    out = metric.evaluate(2)
    assert set(out) == {'mesh/MPJPE', 'mesh/PA-MPJPE', 'mesh/MPVE',
                        'mesh/baseline/MPJPE', 'mesh/baseline/MPVE'}


def test_bad_samples_are_refused_naming_the_key():
    gt = torch.zeros(17, 3)
    with pytest.raises(ValueError, match='eval_protocol'):
        evaluate([make_sample(gt, gt, protocol=None)])
    no_mesh = make_sample(gt, gt)
    del no_mesh['gt_keypoints_3d_h36m']
    with pytest.raises(KeyError, match='gt_keypoints_3d_h36m'):
        evaluate([no_mesh])
    with pytest.raises(ValueError, match='pred_keypoints_3d_h36m'):
        evaluate([make_sample(torch.zeros(14, 3), gt)])
    with pytest.raises(ValueError, match='pred_vertices'):
        evaluate([make_sample(gt, gt, pred_v=torch.zeros(5, 3),
                              gt_v=torch.zeros(6, 3))])
