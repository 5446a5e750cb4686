import numpy as np
import torch

from pointhmr_mm.utils import geometry as geo


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
