import numpy as np
import pytest
import torch

from pointhmr_mm.utils import geometry as geo
from pointhmr_mm.utils import keypoints as kp


def test_rotation_round_trips():
    torch.manual_seed(0)
    aa = torch.randn(5, 3) * 0.8
    mat = geo.axis_angle_to_matrix(aa)
    torch.testing.assert_close(geo.matrix_to_axis_angle(mat), aa, atol=1e-5,
                               rtol=0)
    torch.testing.assert_close(geo.rot6d_to_matrix(geo.matrix_to_rot6d(mat)),
                               mat, atol=1e-5, rtol=0)


def test_rot6d_layout_is_first_two_columns():
    mat = geo.axis_angle_to_matrix(torch.tensor([0.3, -0.2, 0.5]))
    six = geo.matrix_to_rot6d(mat)
    torch.testing.assert_close(six.view(3, 2), mat[:, :2])
    torch.testing.assert_close(geo.rot6d_to_matrix(mat[:, :2].reshape(6)),
                               mat, atol=1e-6, rtol=0)


def test_weak_perspective_sign_of_translation():
    points = torch.tensor([[[1., 2., 5.]]])
    camera = torch.tensor([[2., 0.5, -1.]])
    # s * (X + t), not s * X + t
    assert geo.weak_perspective_projection(points, camera).tolist() == \
        [[[3., 2.]]]


def numpy_procrustes(x, y):
    mx, my = x.mean(0), y.mean(0)
    x0, y0 = x - mx, y - my
    u, s, vt = np.linalg.svd(x0.T @ y0)
    d = np.sign(np.linalg.det(u @ vt))
    e = np.diag([1, 1, d])
    r = u @ e @ vt
    scale = np.trace(np.diag(s) @ e) / (x0**2).sum()
    return scale * x0 @ r + my


def test_procrustes_recovers_similarity_and_matches_numpy():
    torch.manual_seed(0)
    gt = torch.randn(3, 10, 3, dtype=torch.float64)
    rot = geo.axis_angle_to_matrix(torch.randn(3, 3, dtype=torch.float64))
    pred = 1.7 * gt @ rot + torch.tensor([0.3, -2., 1.], dtype=torch.float64)
    torch.testing.assert_close(geo.similarity_procrustes(pred, gt), gt)
    noisy = pred + 0.1 * torch.randn_like(pred)
    ours = geo.similarity_procrustes(noisy, gt).numpy()
    for b in range(3):
        np.testing.assert_allclose(ours[b],
                                   numpy_procrustes(noisy[b].numpy(),
                                                    gt[b].numpy()),
                                   atol=1e-10)


def test_rot6d_of_raw_network_output_is_a_rotation():
    torch.manual_seed(1)
    raw = torch.randn(4, 6)
    mat = geo.rot6d_to_matrix(raw)
    eye = torch.eye(3).expand(4, 3, 3)
    torch.testing.assert_close(mat.transpose(1, 2) @ mat, eye, atol=1e-5,
                               rtol=0)
    torch.testing.assert_close(torch.linalg.det(mat), torch.ones(4))
    # Gram-Schmidt keeps the direction of the first column
    first = raw.view(4, 3, 2)[..., 0]
    torch.testing.assert_close(mat[..., 0], first / first.norm(dim=1,
                                                               keepdim=True))


def test_mpjpe_and_bad_shapes():
    gt = torch.zeros(2, 4, 3)
    pred = gt.clone()
    pred[1, :, 2] = 3.  # every joint 3 units off in sample 1
    pred[1, 0, 0] = 4.  # joint 0 is 5 units off
    assert geo.mpjpe(pred, gt).tolist() == [0., (5. + 3 * 3.) / 4]
    with pytest.raises(ValueError, match=r'pred must be \(B, N, 3\)'):
        geo.similarity_procrustes(gt[0], gt[0])
    with pytest.raises(ValueError, match='gt must match pred'):
        geo.mpjpe(pred, gt[:, :3])
    with pytest.raises(ValueError, match=r'camera must be \(B, 3\)'):
        geo.weak_perspective_projection(gt, torch.ones(2, 2))
    with pytest.raises(ValueError, match=r'rot6d must be \(\.\.\., 6\)'):
        geo.rot6d_to_matrix(torch.ones(2, 9))


# The joint-order constants live in keypoints.py; their names pin them.
def test_h36m_to_lsp_picks_the_same_joints():
    picked = [kp.H36M17_NAMES[i] for i in kp.H36M_TO_J14]
    # H36M's thorax is the joint LSP calls neck (METRO's naming)
    expected = ['thorax' if n == 'neck' else n for n in kp.LSP14_NAMES]
    assert picked == expected
    assert kp.H36M17_NAMES[kp.PELVIS_H36M] == 'pelvis'
    assert [kp.LSP14_NAMES[i] for i in kp.MID_HIP] == ['right_hip',
                                                       'left_hip']
    assert kp.J24_TO_J14 == tuple(range(13)) + (18, )


def swap_side(name):
    for a, b in (('left', 'right'), ('right', 'left')):
        if name.startswith(a):
            return b + name[len(a):]
    return name


@pytest.mark.parametrize('names,perm', [
    (kp.LSP14_NAMES, kp.LSP14_FLIP_PERM),
    (kp.SMPL24_NAMES, kp.SMPL24_FLIP_PERM),
])
def test_flip_permutations_swap_left_and_right(names, perm):
    assert sorted(perm) == list(range(len(names)))
    assert [names[i] for i in perm] == [swap_side(n) for n in names]
    # flipping twice is the identity
    assert [perm[i] for i in perm] == list(range(len(names)))


def test_smpl_parents_precede_children():
    parents = kp.SMPL24_PARENTS
    assert parents[0] == -1
    assert all(0 <= p < child for child, p in enumerate(parents) if child)
    # each limb hangs off the same side
    for child, p in enumerate(parents):
        side = kp.SMPL24_NAMES[child].split('_')[0]
        if side in ('left', 'right') and child > 3:
            assert kp.SMPL24_NAMES[p].split('_')[0] in (side, 'spine3')
