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
    with pytest.raises(TypeError, match='body_model'):
        MeshMetric(body_model='smpl.pkl')


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


# ---------------------------------------------------------------------- #
# The gendered 3DPW protocol and EMDB-1, against the authors' formulas
# written here in numpy (SPIN eval.py's 3DPW branch; eth-ait/emdb
# evaluation_metrics.py), on meshes of the embedded body.
# ---------------------------------------------------------------------- #
SPIN_H36M_TO_J14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]


def body_cfg(body_model_dir):
    return dict(type='SMPL', model_path=str(body_model_dir / 'smpl'),
                joint_regressors=dict(
                    h36m=str(body_model_dir / 'J_regressor_h36m.npy')))


def body_arrays(body_model_dir, gender, pose, betas):
    """(vertices (B, N, 3), kinematic joints (B, 24, 3)) as numpy."""
    from pointhmr_mm.registry import MODELS
    model = MODELS.build(dict(body_cfg(body_model_dir), gender=gender))
    with torch.no_grad():
        out = model(pose=torch.as_tensor(pose, dtype=torch.float32),
                    betas=torch.as_tensor(betas, dtype=torch.float32))
    return out['vertices'].double().numpy(), out['joints'].double().numpy()


def emdb_similarity(s1, s2, verts):
    """EMDB's compute_similarity_transform on (P, 3) inputs (transposed to
    its 3 x P layout); the transform fitted on s1 -> s2 maps verts too."""
    s1, s2, verts = s1.T, s2.T, verts.T
    mu1, mu2 = s1.mean(1, keepdims=True), s2.mean(1, keepdims=True)
    x1, x2 = s1 - mu1, s2 - mu2
    k = x1 @ x2.T
    u, _, vh = np.linalg.svd(k)
    z = np.eye(3)
    z[-1, -1] = np.sign(np.linalg.det(u @ vh))
    r = vh.T @ z @ u.T
    scale = np.trace(r @ k) / (x1**2).sum()
    t = mu2 - scale * r @ mu1
    return (scale * r @ s1 + t).T, (scale * r @ verts + t).T


def emdb_errors(pred_j, gt_j, pred_v, gt_v):
    """EMDB's compute_positional_errors (pelvis = mean of joints 1, 2)."""
    out = dict(mpjpe=[], mpjpe_pa=[], mve=[], mve_pa=[])
    for pj, gj, pv, gv in zip(pred_j, gt_j, pred_v, gt_v):
        gp, pp = (gj[1] + gj[2]) / 2, (pj[1] + pj[2]) / 2
        gj, gv, pj, pv = gj - gp, gv - gp, pj - pp, pv - pp
        pj_pa, pv_pa = emdb_similarity(pj, gj, pv)
        err = lambda a, b: np.sqrt(((a - b)**2).sum(1)).mean()  # noqa
        out['mpjpe'].append(err(gj, pj))
        out['mve'].append(err(gv, pv))
        out['mpjpe_pa'].append(err(gj, pj_pa))
        out['mve_pa'].append(err(gv, pv_pa))
    return {k: np.mean(v) * 1000 for k, v in out.items()}


def spin_3dpw(pred_v, gt_v, regressor):
    """SPIN's 3DPW evaluation: H36M joints regressed from both meshes,
    pelvis (joint 0) subtracted, the 14 LSP joints; plus the
    pelvis-centred mean vertex error."""
    pred_h, gt_h = regressor @ pred_v, regressor @ gt_v
    pred_p, gt_p = pred_h[:, [0]], gt_h[:, [0]]
    pred14 = pred_h[:, SPIN_H36M_TO_J14] - pred_p
    gt14 = gt_h[:, SPIN_H36M_TO_J14] - gt_p
    mpjpe_ = np.sqrt(((pred14 - gt14)**2).sum(-1)).mean(-1)
    pa = [np.sqrt(((emdb_similarity(p, g, p)[0] - g)**2).sum(-1)).mean()
          for p, g in zip(pred14, gt14)]
    mpve = np.sqrt((((pred_v - pred_p) - (gt_v - gt_p))**2).sum(-1)).mean(-1)
    return dict(mpjpe=mpjpe_.mean() * 1000, pa=np.mean(pa) * 1000,
                mpve=mpve.mean() * 1000)


@pytest.fixture(scope='module')
def posed(body_model_dir):
    """GT parameters and genders of 5 frames, and predicted meshes: the
    neutral body of perturbed parameters, rotated and moved."""
    rng = np.random.default_rng(4)
    pose = rng.normal(size=(5, 72)) * 0.3
    betas = rng.normal(size=(5, 10))
    genders = ['male', 'female', 'female', 'male', 'female']
    pred_v, _ = body_arrays(body_model_dir, 'neutral',
                            pose + rng.normal(size=pose.shape) * 0.1,
                            betas * 0.5)
    rot = axis_angle_to_matrix(torch.tensor([0.2, -0.4, 0.1])).numpy()
    pred_v = pred_v @ rot.T + np.array([0.3, -0.2, 4.])
    return pose, betas, genders, pred_v


def params_samples(posed, protocol, regressor=None):
    pose, betas, genders, pred_v = posed
    samples = []
    for i in range(len(pose)):
        s = dict(pred_vertices=torch.as_tensor(pred_v[i]),
                 gt_pose=torch.as_tensor(pose[i]),
                 gt_betas=torch.as_tensor(betas[i]), gender=genders[i],
                 eval_protocol=protocol, sample_idx=i)
        if regressor is not None:
            s['pred_keypoints_3d_h36m'] = torch.as_tensor(
                regressor @ pred_v[i])
        samples.append(s)
    return samples


def test_emdb_matches_the_authors_formulas(body_model_dir, posed):
    pose, betas, genders, pred_v = posed
    gt_v = np.zeros_like(pred_v)
    gt_j = np.zeros((len(pose), 24, 3))
    for gender in ('male', 'female'):
        idx = [i for i, g in enumerate(genders) if g == gender]
        gt_v[idx], gt_j[idx] = body_arrays(body_model_dir, gender,
                                           pose[idx], betas[idx])
    from pointhmr_mm.utils.safe_pickle import load_npz
    j_reg = np.asarray(load_npz(body_model_dir / 'smpl' /
                                'SMPL_NEUTRAL.npz')['J_regressor'])
    if hasattr(j_reg, 'toarray'):
        j_reg = j_reg.toarray()
    pred_j = np.einsum('jn,bnc->bjc', j_reg, pred_v)
    want = emdb_errors(pred_j, gt_j, pred_v, gt_v)
    out = evaluate(params_samples(posed, 'emdb'),
                   body_model=body_cfg(body_model_dir))
    for key, name in (('mpjpe', 'MPJPE'), ('mpjpe_pa', 'PA-MPJPE'),
                      ('mve', 'MVE'), ('mve_pa', 'MVE-PA')):
        assert out[f'emdb/{name}'] == pytest.approx(want[key], rel=1e-4)
    assert want['mpjpe'] > want['mpjpe_pa'] > 1  # a real error
    assert {'emdb/baseline/MPJPE', 'emdb/baseline/MVE'} <= set(out)
    with pytest.raises(ValueError, match='body_model'):
        evaluate(params_samples(posed, 'emdb'))


def test_3dpw_protocols_match_spin_with_neutral_or_gendered_gt(
        body_model_dir, posed):
    pose, betas, genders, pred_v = posed
    regressor = np.load(body_model_dir / 'J_regressor_h36m.npy')
    neutral_v, _ = body_arrays(body_model_dir, 'neutral', pose, betas)
    gendered_v = np.zeros_like(neutral_v)
    for gender in ('male', 'female'):
        idx = [i for i, g in enumerate(genders) if g == gender]
        gendered_v[idx] = body_arrays(body_model_dir, gender, pose[idx],
                                      betas[idx])[0]
    cfg = body_cfg(body_model_dir)
    for protocol, gt_v, prefix in (('3dpw', neutral_v, ''),
                                   ('3dpw_gendered', gendered_v,
                                    '3dpw_gendered/')):
        want = spin_3dpw(pred_v, gt_v, regressor)
        out = evaluate(params_samples(posed, protocol, regressor),
                       body_model=cfg)
        assert out[prefix + 'MPJPE'] == pytest.approx(want['mpjpe'],
                                                      rel=1e-4)
        assert out[prefix + 'PA-MPJPE'] == pytest.approx(want['pa'],
                                                         rel=1e-4)
        assert out[prefix + 'MPVE'] == pytest.approx(want['mpve'],
                                                     rel=1e-4)
    # the two protocols differ by the GT body only
    neutral = spin_3dpw(pred_v, neutral_v, regressor)
    gendered = spin_3dpw(pred_v, gendered_v, regressor)
    assert abs(neutral['mpjpe'] - gendered['mpjpe']) > 0.1
    mixed = evaluate(params_samples(posed, '3dpw', regressor) +
                     params_samples(posed, 'emdb'), body_model=cfg)
    assert {'3dpw/MPJPE', 'emdb/MPJPE'} <= set(mixed)


def test_3dpw_with_a_body_model_needs_its_h36m_regressor(body_model_dir,
                                                         posed):
    regressor = np.load(body_model_dir / 'J_regressor_h36m.npy')
    cfg = dict(type='SMPL', model_path=str(body_model_dir / 'smpl'))
    with pytest.raises(KeyError, match="'h36m' joint regressor"):
        evaluate(params_samples(posed, '3dpw_gendered', regressor),
                 body_model=cfg)
    # without a gender the gendered GT falls back to the neutral body
    neutral = evaluate(params_samples(posed, '3dpw', regressor),
                       body_model=body_cfg(body_model_dir))
    samples = params_samples(posed, '3dpw_gendered', regressor)
    for s in samples:
        s.pop('gender')
    fallback = evaluate(samples, body_model=body_cfg(body_model_dir))
    assert fallback['3dpw_gendered/MPJPE'] == pytest.approx(
        neutral['MPJPE'])
