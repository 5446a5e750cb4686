import numpy as np
import pytest
import torch
import trimesh

from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.models.body_models.mannequin import (generate_mannequin,
                                                      make_mannequin_files)

L_SHOULDER, L_ELBOW, L_WRIST, R_WRIST = 16, 18, 20, 21
L_HIP, L_ANKLE, R_ANKLE = 1, 7, 8
ARM_BETA, LEG_BETA = 2, 3


@pytest.fixture(scope='module')
def body(mannequin_dir):
    return SMPL(str(mannequin_dir))


def test_closed_deterministic_and_normalised():
    a, b = generate_mannequin(600, seed=0), generate_mannequin(600, seed=0)
    np.testing.assert_array_equal(a['v_template'], b['v_template'])
    assert trimesh.Trimesh(a['v_template'], a['f']).is_watertight
    assert abs(len(a['v_template']) - 600) <= 30
    np.testing.assert_allclose(a['weights'].sum(1), 1.)
    height = np.ptp(a['v_template'][:, 1])
    assert 1.5 < height < 1.9
    c = generate_mannequin(600, seed=1)
    assert not np.array_equal(a['v_template'], c['v_template'])


def limb(joints, a, b):
    return (joints[:, a] - joints[:, b]).norm(dim=-1)


def test_betas_lengthen_limbs(body):
    betas = torch.zeros(2, 10)
    betas[1, ARM_BETA] = 2.
    joints = body(betas=betas)['joints']
    assert limb(joints, L_SHOULDER, L_WRIST)[1] > \
        limb(joints, L_SHOULDER, L_WRIST)[0] + 0.02
    betas = torch.zeros(2, 10)
    betas[1, LEG_BETA] = 2.
    joints = body(betas=betas)['joints']
    assert limb(joints, L_HIP, L_ANKLE)[1] > limb(joints, L_HIP, L_ANKLE)[0] \
        + 0.02


def test_bending_an_elbow_moves_that_wrist_only(body):
    pose = torch.zeros(2, 72)
    pose[1, 3 * L_ELBOW + 1] = 1.2  # bend the left elbow about y
    joints = body(pose=pose)['joints']
    assert (joints[1, L_WRIST] - joints[0, L_WRIST]).norm() > 0.1
    torch.testing.assert_close(joints[1, R_WRIST], joints[0, R_WRIST])
    torch.testing.assert_close(joints[1, [L_ANKLE, R_ANKLE]],
                               joints[0, [L_ANKLE, R_ANKLE]], atol=1e-6,
                               rtol=0)


def test_files_are_not_overwritten(mannequin_dir):
    with pytest.raises(FileExistsError, match='overwrite'):
        make_mannequin_files(mannequin_dir, num_vertices=600)
