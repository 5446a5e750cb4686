"""The generated mannequin: closed, deterministic, SMPL-like, and run
through the SMPL class (smplx's LBS)."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch
import trimesh

from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.models.body_models.mannequin import (generate_mannequin,
                                                      make_mannequin_files)
from pointhmr_mm.utils.keypoints import H36M_TO_J14

# SMPL-24 joint indices
PELVIS, L_HIP, R_HIP, L_ANKLE, R_ANKLE = 0, 1, 2, 7, 8
L_SHOULDER, L_ELBOW, L_WRIST, R_WRIST, L_HAND = 16, 18, 20, 21, 22
ARM_JOINTS = (16, 18, 20, 22)  # the left arm below the collar
ARM_BETA, LEG_BETA = 2, 3
# H36M-17 joints on the body's right (x < 0) and left (x > 0)
H36M_RIGHT, H36M_LEFT, H36M_HEAD_TOP = (1, 2, 3, 14, 15, 16), \
    (4, 5, 6, 11, 12, 13), 10
NUM_VERTICES = 600


@pytest.fixture(scope='module')
def model():
    return generate_mannequin(NUM_VERTICES, seed=0)


@pytest.fixture(scope='module')
def body(mannequin_dir):
    return SMPL(str(mannequin_dir))


def test_closed_deterministic_and_normalised(model):
    again = generate_mannequin(NUM_VERTICES, seed=0)
    for key in ('v_template', 'f', 'weights', 'shapedirs', 'J'):
        np.testing.assert_array_equal(model[key], again[key])
    verts = model['v_template']
    assert trimesh.Trimesh(verts, model['f'], process=False).is_watertight
    assert abs(len(verts) - NUM_VERTICES) <= 0.05 * NUM_VERTICES
    np.testing.assert_allclose(model['weights'].sum(1), 1.)
    assert (model['weights'] >= 0).all()
    other = generate_mannequin(NUM_VERTICES, seed=1)
    assert not np.array_equal(verts, other['v_template'])


def test_smpl_like_placement_and_format(model):
    verts, joints = model['v_template'], model['J']
    assert 1.6 < np.ptp(verts[:, 1]) < 1.85
    assert -1.2 < verts[:, 1].min() < -1.1  # soles
    assert np.linalg.norm(joints[PELVIS]) < 0.25
    assert joints[L_HIP, 0] > 0 > joints[R_HIP, 0]  # x is the body's left
    assert model['kintree_table'][0, 0] == 4294967295
    assert model['posedirs'].shape == (len(verts), 3, 207)
    assert model['shapedirs'].shape == (len(verts), 3, 10)


def test_joint_regressors(model):
    regressor = model['J_regressor']
    assert sp.isspmatrix_csc(regressor)
    dense = regressor.toarray()
    assert (dense >= 0).all()
    np.testing.assert_allclose(dense.sum(1), 1.)
    np.testing.assert_allclose(dense @ model['v_template'], model['J'],
                               atol=1e-4)
    h36m = model['J_regressor_h36m'] @ model['v_template']
    assert (h36m[list(H36M_RIGHT), 0] < 0).all()
    assert (h36m[list(H36M_LEFT), 0] > 0).all()
    assert h36m[H36M_HEAD_TOP, 1] == pytest.approx(
        model['v_template'][:, 1].max(), abs=0.03)
    np.testing.assert_allclose(h36m[0], model['J'][PELVIS])


def limb(joints, a, b):
    return (joints[:, a] - joints[:, b]).norm(dim=-1)


def test_betas_lengthen_limbs(body):
    for beta, (a, b) in ((ARM_BETA, (L_SHOULDER, L_WRIST)),
                         (LEG_BETA, (L_HIP, L_ANKLE))):
        betas = torch.zeros(2, 10)
        betas[1, beta] = 2.
        length = limb(body(betas=betas)['joints'], a, b)
        assert length[1] > length[0] + 0.02


def test_bending_an_elbow_moves_that_arm_only(body):
    pose = torch.zeros(2, 72)
    pose[1, 3 * L_ELBOW + 1] = 1.2  # bend the left elbow about y
    out = body(pose=pose)
    joints, verts = out['joints'], out['vertices']
    assert (joints[1, L_WRIST] - joints[0, L_WRIST]).norm() > 0.1
    torch.testing.assert_close(joints[1, R_WRIST], joints[0, R_WRIST])
    torch.testing.assert_close(joints[1, [L_ANKLE, R_ANKLE]],
                               joints[0, [L_ANKLE, R_ANKLE]], atol=1e-6,
                               rtol=0)
    weights = body.smpl.lbs_weights
    hand = weights[:, [20, 22]].sum(1) > 0.9
    untouched = weights[:, list(ARM_JOINTS)].sum(1) == 0
    assert hand.any() and untouched.any()
    assert ((verts[1, hand] - verts[0, hand]).norm(dim=-1) > 0.1).all()
    torch.testing.assert_close(verts[1, untouched], verts[0, untouched],
                               atol=1e-6, rtol=0)


def test_genders_share_topology_and_differ_in_shape(mannequin_dir, body):
    male = SMPL(str(mannequin_dir), gender='male')
    female = SMPL(str(mannequin_dir), gender='female')
    assert torch.equal(male.faces, body.faces)
    arm = {name: limb(m()['joints'], L_SHOULDER, L_WRIST)[0].item()
           for name, m in (('male', male), ('female', female))}
    assert arm['male'] > arm['female'] + 0.01


def test_files_and_overwrite(mannequin_dir, tmp_path):
    with pytest.raises(FileExistsError, match='overwrite'):
        make_mannequin_files(mannequin_dir, num_vertices=NUM_VERTICES)
    h36m = np.load(mannequin_dir / 'J_regressor_h36m.npy')
    extra = np.load(mannequin_dir / 'J_regressor_extra.npy')
    assert h36m.shape[0] == 17 and extra.shape == (14, h36m.shape[1])
    np.testing.assert_array_equal(extra, h36m[list(H36M_TO_J14)])
    out = tmp_path / 'body_models'
    out.mkdir()
    (out / 'J_regressor_h36m.npy').write_bytes(b'old')
    paths = make_mannequin_files(out, num_vertices=300, overwrite=True)
    assert np.load(paths['h36m']).shape[0] == 17
    assert not list(out.rglob('*.tmp'))


def test_bad_arguments():
    with pytest.raises(ValueError, match='gender'):
        generate_mannequin(NUM_VERTICES, gender='robot')
    with pytest.raises(ValueError, match='num_vertices'):
        generate_mannequin(50)
    with pytest.raises(ValueError, match='grid step'):
        generate_mannequin(50000)
