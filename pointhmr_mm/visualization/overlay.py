"""Every person of an image drawn into the full image with one pinhole
camera and one z-buffer, so that a nearer person covers a farther one.

Shape shorthand: P people, N vertices, F faces, J joints.
"""
from typing import Optional, Sequence

import cv2
import numpy as np

from .camera import perspective_to_screen
from .renderer import MeshRenderer

# RGB in [0, 1] per person, cycled: light blue first (the single-person
# colour of the other pictures), then hues that stay apart when shaded.
PERSON_COLORS = ((0.65, 0.74, 0.86), (0.93, 0.62, 0.55), (0.62, 0.85, 0.62),
                 (0.90, 0.80, 0.50), (0.78, 0.65, 0.90), (0.55, 0.85, 0.85))
BBOX_THICKNESS = 2
KEYPOINT_BGR = (0, 255, 255)


def person_colors(num: int) -> np.ndarray:
    """(num, 3) RGB in [0, 1]: :data:`PERSON_COLORS` cycled."""
    return np.asarray([PERSON_COLORS[k % len(PERSON_COLORS)]
                       for k in range(num)], dtype=np.float64).reshape(-1, 3)


def _rgb_to_bgr255(rgb) -> tuple:
    return tuple(int(round(255 * c)) for c in np.asarray(rgb)[::-1])


def draw_people(image_bgr: np.ndarray, vertices_cam: Sequence[np.ndarray],
                faces: np.ndarray, focal: float,
                principal: Optional[Sequence[float]] = None,
                colors: Optional[np.ndarray] = None, alpha: float = 0.8,
                bboxes: Optional[Sequence] = None,
                keypoints_2d: Optional[Sequence] = None,
                radius: int = 3, thickness: int = BBOX_THICKNESS
                ) -> np.ndarray:
    """Meshes of all people over the full image, perspective-projected.

    Args:
        image_bgr: (H, W, 3) uint8 image; a drawn copy is returned.
        vertices_cam: Per person (N, 3) vertices in the image's camera
            frame (metres, x right, y down, z forward), e.g. the record's
            ``vertices_cam``.
        faces: (F, 3) faces shared by the meshes.
        focal: Focal length in pixels (fx = fy).
        principal: (cx, cy) in pixels; default the image centre.
        colors: (P, 3) RGB in [0, 1]; default :func:`person_colors`.
        alpha: Mesh opacity over the image.
        bboxes: Optional (P, 4) xyxy boxes, drawn as rectangles in the
            person's colour.
        keypoints_2d: Optional (P, J, 2) image pixels, drawn as dots.
        radius: Keypoint dot radius in pixels.
        thickness: Box line width in pixels.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR.
    """
    height, width = image_bgr.shape[:2]
    if not focal > 0:
        raise ValueError(f'focal must be positive (pixels), got {focal}')
    principal = (width / 2., height / 2.) if principal is None else principal
    num = len(vertices_cam)
    colors = person_colors(num) if colors is None else np.asarray(colors)
    out = np.ascontiguousarray(image_bgr).copy()
    if num:
        # screen z is the camera depth (metres) for every person: one
        # z-buffer orders them
        screens = [perspective_to_screen(v, (focal, focal), principal)
                   for v in vertices_cam]
        out = MeshRenderer((height, width)).render(
            screens, faces, image=out, color=colors, alpha=alpha,
            normal_vertices=list(vertices_cam))['image']
    for k, box in enumerate([] if bboxes is None else bboxes):
        x0, y0, x1, y1 = (int(round(float(c))) for c in box[:4])
        cv2.rectangle(out, (x0, y0), (x1, y1),
                      _rgb_to_bgr255(colors[k % len(colors)]), thickness)
    for points in [] if keypoints_2d is None else keypoints_2d:
        for x, y in np.asarray(points, dtype=np.float64).reshape(-1, 2):
            if np.isfinite([x, y]).all():
                cv2.circle(out, (int(round(x)), int(round(y))), radius,
                           KEYPOINT_BGR, -1, cv2.LINE_AA)
    return out
