"""Pure tensor geometry: rotations, the weak-perspective camera and
Procrustes alignment. No configs, no state.

Shape shorthand: B batch, N points.
"""
import roma
import torch
from torch import Tensor

# Guards the Procrustes scale against an all-equal (zero-spread) prediction.
MIN_SPREAD = 1e-12


def _check_points(name: str, points: Tensor) -> None:
    if points.dim() != 3 or points.shape[-1] != 3:
        raise ValueError(f'{name} must be (B, N, 3), got '
                         f'{tuple(points.shape)}')


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    """(..., 3) axis-angle (radians) -> (..., 3, 3) rotation matrices."""
    return roma.rotvec_to_rotmat(axis_angle)


def matrix_to_axis_angle(matrix: Tensor) -> Tensor:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle."""
    return roma.rotmat_to_rotvec(matrix)


def rot6d_to_matrix(rot6d: Tensor) -> Tensor:
    """(..., 6) -> (..., 3, 3).

    The 6D layout is the first two **columns** of the rotation matrix, read
    row-major as a (3, 2) array (Zhou et al. 2019, HMR 2.0); Gram-Schmidt
    orthonormalises them.
    """
    if rot6d.shape[-1] != 6:
        raise ValueError(f'rot6d must be (..., 6), got {tuple(rot6d.shape)}')
    # (..., 6) -> (..., 3, 2): row i holds (R[i, 0], R[i, 1])
    return roma.special_gramschmidt(rot6d.reshape(*rot6d.shape[:-1], 3, 2))


def matrix_to_rot6d(matrix: Tensor) -> Tensor:
    """(..., 3, 3) -> (..., 6), the inverse layout of
    :func:`rot6d_to_matrix`."""
    return matrix[..., :, :2].reshape(*matrix.shape[:-2], 6)


def weak_perspective_projection(points: Tensor, camera: Tensor) -> Tensor:
    """Project with a weak-perspective camera ``x2d = s * (X_xy + t)``.

    Args:
        points: (B, N, 3).
        camera: (B, 3) as (s, tx, ty).

    Returns:
        Tensor: (B, N, 2), in [-1, 1] crop coordinates for points that
        land in the crop.
    """
    _check_points('points', points)
    if camera.shape != (points.shape[0], 3):
        raise ValueError(f'camera must be (B, 3) = (s, tx, ty) with B = '
                         f'{points.shape[0]}, got {tuple(camera.shape)}')
    # (B, 3) -> (B, 1, 1) scale and (B, 1, 2) translation
    scale, trans = camera[:, None, :1], camera[:, None, 1:]
    return scale * (points[..., :2] + trans)


def similarity_procrustes(pred: Tensor, gt: Tensor) -> Tensor:
    """Align ``pred`` onto ``gt`` with the best scale, rotation and
    translation (least squares, per sample).

    Args:
        pred: (B, N, 3).
        gt: (B, N, 3).

    Returns:
        Tensor: (B, N, 3) aligned ``pred``.
    """
    _check_points('pred', pred)
    if gt.shape != pred.shape:
        raise ValueError(f'gt must match pred {tuple(pred.shape)}, got '
                         f'{tuple(gt.shape)}')
    mu_pred, mu_gt = pred.mean(1, keepdim=True), gt.mean(1, keepdim=True)
    x, y = pred - mu_pred, gt - mu_gt
    # (B, 3, 3) cross-covariance; SVD gives the optimal rotation.
    u, s, vh = torch.linalg.svd(x.transpose(1, 2) @ y)
    sign = torch.sign(torch.linalg.det(u @ vh))
    # flip the last singular direction to exclude reflections
    fix = torch.ones_like(s)
    fix[:, -1] = sign
    rot = u @ torch.diag_embed(fix) @ vh
    scale = (s * fix).sum(1) / x.pow(2).sum((1, 2)).clamp_min(MIN_SPREAD)
    return scale[:, None, None] * x @ rot + mu_gt


def mpjpe(pred: Tensor, gt: Tensor) -> Tensor:
    """Mean per-joint position error per sample.

    Args:
        pred: (B, N, 3).
        gt: (B, N, 3), same units as ``pred``.

    Returns:
        Tensor: (B,) mean Euclidean distance, in the input's units.
    """
    _check_points('pred', pred)
    if gt.shape != pred.shape:
        raise ValueError(f'gt must match pred {tuple(pred.shape)}, got '
                         f'{tuple(gt.shape)}')
    return (pred - gt).norm(dim=-1).mean(-1)
