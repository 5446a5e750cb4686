"""Cameras that take meshes to the renderer's screen coordinates.

Screen coordinates (what :class:`~.renderer.MeshRenderer` draws): x right,
y down, in pixels, continuous, so pixel column ``j`` spans ``[j, j + 1)``
and is sampled at its centre ``j + 0.5``; z is depth, larger is farther.

Shape shorthand: N vertices.
"""
from typing import Optional, Sequence

import numpy as np
import torch

from pointhmr_mm.utils.geometry import weak_perspective_projection

# Points at or behind the camera plane have no image; they become NaN so
# that the rasteriser skips every face that touches them.
MIN_DEPTH = 1e-8


def _as_points(vertices, name: str = 'vertices') -> np.ndarray:
    """(N, 3) float64 copy of ``vertices`` (numpy or torch), or a clear
    error naming the argument."""
    if isinstance(vertices, torch.Tensor):
        vertices = vertices.detach().cpu().numpy()
    points = np.asarray(vertices, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f'{name} must have shape (N, 3), got '
                         f'{points.shape}')
    return points


def _pair(value, name: str) -> np.ndarray:
    pair = np.asarray(value, dtype=np.float64).reshape(-1)
    if pair.shape != (2, ):
        raise ValueError(f'{name} must be two numbers (x, y), got {value}')
    return pair


def perspective_to_screen(vertices_cam, focal: Sequence[float],
                          principal: Sequence[float]) -> np.ndarray:
    """Pinhole projection of camera-frame points to screen coordinates.

    Args:
        vertices_cam: (N, 3) in the camera frame (x right, y down, z
            forward), any unit.
        focal: (fx, fy) in pixels.
        principal: (cx, cy) in screen pixels (the image centre is
            ``(W / 2, H / 2)`` in this module's convention).

    Returns:
        np.ndarray: (N, 3) screen x, y in pixels and z = camera depth
        (unchanged). Points with z <= 0 are NaN and are not drawn.
    """
    points = _as_points(vertices_cam, 'vertices_cam')
    focal, principal = _pair(focal, 'focal'), _pair(principal, 'principal')
    depth = points[:, 2:]
    in_front = depth > MIN_DEPTH
    xy = focal * points[:, :2] / np.where(in_front, depth, 1.) + principal
    screen = np.concatenate([xy, depth], axis=1)
    screen[~in_front[:, 0]] = np.nan
    return screen


def weak_perspective_to_screen(vertices,
                               camera: Sequence[float],
                               crop_size: int = 224,
                               crop_to_image: Optional[np.ndarray] = None
                               ) -> np.ndarray:
    """Project with the model's weak-perspective camera into crop (or
    original image) pixels.

    ``x_norm = s * (X_xy + t)`` lies in [-1, 1] across the crop (the
    project's convention, see ``docs/conventions.md``); ``x_px = (x_norm +
    1) / 2 * crop_size`` puts -1 on the crop's left/top edge and +1 on its
    right/bottom edge. Depth is ``X_z`` scaled by the same factor as x and
    y, so screen-space normals (and hence shading) stay right.

    Args:
        vertices: (N, 3) in the crop's camera frame (metres).
        camera: (3, ) as (s, tx, ty).
        crop_size: Side of the square crop in pixels.
        crop_to_image: Optional (2, 3) affine from crop pixels to original
            image pixels (the inverse of the sample's ``crop_matrix``).

    Returns:
        np.ndarray: (N, 3) screen x, y in pixels and scaled depth.
    """
    points = _as_points(vertices)
    cam = np.asarray(camera, dtype=np.float64).reshape(-1)
    if cam.shape != (3, ):
        raise ValueError(f'camera must be (s, tx, ty), got {camera}')
    if crop_size <= 0:
        raise ValueError(f'crop_size must be positive, got {crop_size}')
    xy_norm = weak_perspective_projection(
        torch.from_numpy(points)[None], torch.from_numpy(cam)[None])
    half = crop_size / 2.
    xy = (xy_norm[0].numpy() + 1.) * half
    depth = cam[0] * points[:, 2] * half
    if crop_to_image is not None:
        affine = np.asarray(crop_to_image, dtype=np.float64)
        if affine.shape != (2, 3):
            raise ValueError(f'crop_to_image must be a (2, 3) affine, got '
                             f'shape {affine.shape}')
        xy = xy @ affine[:, :2].T + affine[:, 2]
        # a similarity scales lengths by sqrt(|det|); depth follows suit
        depth = depth * np.sqrt(abs(np.linalg.det(affine[:, :2])))
    return np.concatenate([xy, depth[:, None]], axis=1)


def side_view(vertices, angle_deg: float = 90.) -> np.ndarray:
    """Turn a mesh about the vertical (y) axis through its centre.

    Args:
        vertices: (N, 3), y down (camera or screen frame).
        angle_deg: Rotation angle; 90 shows the mesh's left side to a
            camera looking along +z.

    Returns:
        np.ndarray: (N, 3) turned vertices, same centre (vertex mean).
    """
    points = _as_points(vertices)
    if len(points) == 0:
        return points
    centre = points.mean(0)
    angle = np.deg2rad(angle_deg)
    cos, sin = np.cos(angle), np.sin(angle)
    rot_y = np.array([[cos, 0., sin], [0., 1., 0.], [-sin, 0., cos]])
    return (points - centre) @ rot_y.T + centre
