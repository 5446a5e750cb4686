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


def diagonal_focal(height: float, width: float) -> float:
    """Default focal length in pixels when none is known: the image
    diagonal, ``sqrt(w^2 + h^2)`` (CLIFF's and 4D-Humans' rule; a field of
    view of about 53 degrees across the diagonal)."""
    if not (height > 0 and width > 0):
        raise ValueError(f'image height and width must be positive, got '
                         f'{height} x {width}')
    return float((height**2 + width**2)**0.5)


def cam_crop_to_full(camera: Tensor, bbox_center: Tensor, bbox_size: Tensor,
                     image_hw: Tensor, focal: Tensor) -> Tensor:
    """Camera-frame translation (metres) of a crop's weak-perspective
    camera in the full image's pinhole camera.

    The crop camera maps a point to ``s * (X_xy + t)`` in [-1, 1] across
    a square crop of ``bbox_size`` pixels centred on ``bbox_center`` (no
    rotation). A pinhole camera of focal ``f`` pixels with its principal
    point at the image centre ``(W / 2, H / 2)`` maps ``X + T`` to ``f *
    (X_xy + T_xy) / (Z + T_z) + (W / 2, H / 2)``. Equating the two for
    points near the root (``Z`` small next to ``T_z``)::

        T_z = 2 f / (s * bbox_size)
        T_x = t_x + 2 (c_x - W / 2) / (s * bbox_size)
        T_y = t_y + 2 (c_y - H / 2) / (s * bbox_size)

    as 4D-Humans' ``cam_crop_to_full`` does. ``X + T`` are then the
    camera-frame vertices of the full image.

    Args:
        camera: (B, 3) crop cameras (s, tx, ty).
        bbox_center: (B, 2) crop centres in image pixels (x, y).
        bbox_size: (B,) crop sides in image pixels.
        image_hw: (B, 2) image heights and widths in pixels.
        focal: (B,) focal lengths in pixels.

    Returns:
        Tensor: (B, 3) translations (T_x, T_y, T_z) in metres (the mesh's
        unit).
    """
    batch = camera.shape[0]
    want = dict(camera=(camera, (batch, 3)),
                bbox_center=(bbox_center, (batch, 2)),
                bbox_size=(bbox_size, (batch, )),
                image_hw=(image_hw, (batch, 2)), focal=(focal, (batch, )))
    for name, (value, shape) in want.items():
        if tuple(value.shape) != shape:
            raise ValueError(f'{name} must have shape {shape}, got '
                             f'{tuple(value.shape)}')
    # (B,) pixels spanned by one unit of X_xy, over 2 (the [-1, 1] range)
    scale_px = camera[:, 0] * bbox_size
    if not bool((scale_px > 0).all()):
        raise ValueError('camera scale s and bbox_size must be positive '
                         '(a body behind the camera has no translation)')
    half_wh = image_hw.flip(-1) / 2.
    t_xy = camera[:, 1:] + 2. * (bbox_center - half_wh) / scale_px[:, None]
    t_z = 2. * focal / scale_px
    return torch.cat([t_xy, t_z[:, None]], dim=1)
