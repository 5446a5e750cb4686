"""Pictures of mesh predictions: the mesh over the input crop, a side view
and a grid of vertex heatmaps, written through mmengine's vis backends.

Shape shorthand: N full-mesh vertices, F faces, V coarse vertices, J
joints, S side of the square input crop in pixels.
"""
from typing import List, Optional, Sequence

import cv2
import mmcv
import numpy as np
from mmengine.visualization import Visualizer

from pointhmr_mm.registry import VISUALIZERS
from .camera import weak_perspective_to_screen
from .display import show_image
from .overlay import draw_people
from .renderer import MeshRenderer, side_view

PRED_COLOR = (0.65, 0.74, 0.86)  # RGB in [0, 1], light blue
GT_COLOR = (0.93, 0.62, 0.55)  # RGB in [0, 1], salmon
PRED_ALPHA = 0.8  # the crop stays faintly visible through the mesh
GT_KEYPOINT_BGR = (0, 255, 0)
KEYPOINT_RADIUS_FRACTION = 1 / 100  # of the crop side
HEATMAP_GRID = 4  # 4 x 4 heatmaps of evenly spread vertices
HEATMAP_WEIGHT = 0.5  # heatmap share in the blend over the crop
SIDE_BACKGROUND = (0.15, 0.15, 0.15)  # RGB in [0, 1]
SIDE_FILL = 0.85  # share of the side panel's height the meshes fill
SIDE_ANGLE_DEG = 90.
SIDE_GAP = 1.15  # centre spacing of side-by-side meshes / widest mesh


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _field(sample, key: str) -> np.ndarray:
    if key not in sample:
        raise KeyError(f'data sample has no "{key}" to draw (fields: '
                       f'{sorted(sample.keys())})')
    return _to_numpy(sample.get(key)).astype(np.float64)


def draw_keypoints_2d(image_bgr: np.ndarray,
                      keypoints_2d: np.ndarray,
                      color: Sequence[int] = GT_KEYPOINT_BGR) -> np.ndarray:
    """Dots at labelled keypoints.

    Args:
        image_bgr: (S, S, 3) uint8 crop; a drawn copy is returned.
        keypoints_2d: (J, 3) normalised xy in [-1, 1] + confidence (0 = no
            label).
        color: BGR dot colour.
    """
    out = image_bgr.copy()
    size = out.shape[0]
    radius = max(1, round(size * KEYPOINT_RADIUS_FRACTION))
    for x, y, conf in _to_numpy(keypoints_2d).reshape(-1, 3):
        if conf > 0:
            centre = (int((x + 1) / 2 * size), int((y + 1) / 2 * size))
            cv2.circle(out, centre, radius, color, -1, cv2.LINE_AA)
    return out


def draw_heatmap_grid(image_bgr: np.ndarray, heatmaps: np.ndarray,
                      grid: int = HEATMAP_GRID) -> np.ndarray:
    """Tile ``grid * grid`` vertex heatmaps, each blended over the crop.

    Args:
        image_bgr: (S, S, 3) uint8 crop.
        heatmaps: (V, h, w) per-vertex probabilities; an evenly spread
            subset of the V vertices is shown.
        grid: Tiles per side.

    Returns:
        np.ndarray: (grid * (S // grid), same, 3) uint8 BGR.
    """
    heatmaps = _to_numpy(heatmaps).astype(np.float32)
    if heatmaps.ndim != 3 or len(heatmaps) == 0:
        raise ValueError(f'pred_heatmaps must be (V, h, w), got shape '
                         f'{heatmaps.shape}')
    tile = image_bgr.shape[0] // grid
    small = cv2.resize(image_bgr, (tile, tile), interpolation=cv2.INTER_AREA)
    picks = np.linspace(0, len(heatmaps) - 1, grid * grid).round()
    out = np.zeros((tile * grid, tile * grid, 3), np.uint8)
    for k, vertex in enumerate(picks.astype(int)):
        heat = cv2.resize(heatmaps[vertex], (tile, tile),
                          interpolation=cv2.INTER_LINEAR)
        # a softmax over h * w cells peaks far below 1: scale each map to
        # its own maximum so that the peak is visible
        heat = np.uint8(255 * heat / max(float(heat.max()), 1e-12))
        color = cv2.applyColorMap(heat, cv2.COLORMAP_JET)
        row, col = divmod(k, grid)
        out[row * tile:(row + 1) * tile, col * tile:(col + 1) * tile] = \
            cv2.addWeighted(small, 1 - HEATMAP_WEIGHT, color, HEATMAP_WEIGHT,
                            0)
    return out


def draw_side_view(meshes: List[np.ndarray], faces: np.ndarray, size: int,
                   colors: List[Sequence[float]]) -> np.ndarray:
    """Meshes turned about their vertical axis, side by side (left to
    right) in a square panel at a common scale, so that they compare.

    Args:
        meshes: (N, 3) camera-frame vertices per mesh (may be empty).
        faces: (F, 3) faces shared by the meshes.
        size: Panel side in pixels.
        colors: RGB in [0, 1] per mesh.

    Returns:
        np.ndarray: (size, size, 3) uint8 BGR.
    """
    renderer = MeshRenderer(size, background=SIDE_BACKGROUND)
    if not meshes:
        return renderer.render([], [])['image']
    turned = [side_view(m, SIDE_ANGLE_DEG) for m in meshes]
    turned = [t - t.mean(0) for t in turned]
    spacing = SIDE_GAP * max(np.ptp(t[:, 0]) for t in turned)
    offsets = (np.arange(len(turned)) - (len(turned) - 1) / 2) * spacing
    turned = [t + [dx, 0., 0.] for t, dx in zip(turned, offsets)]
    extent = max(max(np.ptp(t[:, 1]) for t in turned),
                 len(turned) * spacing)
    # weak perspective: x_norm = s * X spans [-1, 1], so s = 2 fill / extent
    camera = (2 * SIDE_FILL / max(extent, 1e-6), 0., 0.)
    screen = [weak_perspective_to_screen(t, camera, size) for t in turned]
    return renderer.render(screen, faces, color=np.asarray(colors))['image']


def draw_mesh_prediction(image_bgr: np.ndarray, sample, faces: np.ndarray,
                         draw_gt: bool = True,
                         draw_pred: bool = True) -> np.ndarray:
    """Panels ``[crop + mesh | side view | heatmap grid]`` in one image.

    Args:
        image_bgr: (S, S, 3) uint8 BGR input crop.
        sample: Data sample; with ``draw_pred`` it needs ``pred_vertices``
            (N, 3) and ``pred_camera`` (3, ) and may hold ``pred_heatmaps``
            (V, h, w); GT drawn when present: ``gt_keypoints_2d`` (J, 3)
            normalised, ``gt_vertices`` (N, 3) (side view; also over the
            crop when ``gt_camera`` (3, ) is given).
        faces: (F, 3) faces of the full mesh.
        draw_gt: Draw the ground truth.
        draw_pred: Draw the prediction.

    Returns:
        np.ndarray: (S, 2 S or 3 S, 3) uint8 BGR.
    """
    image_bgr = np.asarray(image_bgr)
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or \
            image_bgr.shape[0] != image_bgr.shape[1] or \
            image_bgr.dtype != np.uint8:
        raise ValueError(f'image must be a square (S, S, 3) uint8 crop, got '
                         f'{image_bgr.dtype} {image_bgr.shape}')
    size = image_bgr.shape[0]
    overlay, side_meshes, side_colors = image_bgr, [], []
    if draw_pred:
        verts = _field(sample, 'pred_vertices')
        screen = weak_perspective_to_screen(
            verts, _field(sample, 'pred_camera'), crop_size=size)
        overlay = MeshRenderer(size).render(
            screen, faces, image=image_bgr, color=PRED_COLOR,
            alpha=PRED_ALPHA)['image']
        side_meshes.append(verts)
        side_colors.append(PRED_COLOR)
    if draw_gt and 'gt_vertices' in sample and 'gt_camera' in sample:
        # a GT mesh with a camera (e.g. one fitted to the GT keypoints by
        # tools/misc/browse_dataset.py) is drawn over the crop as well
        screen = weak_perspective_to_screen(
            _field(sample, 'gt_vertices'), _field(sample, 'gt_camera'),
            crop_size=size)
        overlay = MeshRenderer(size).render(
            screen, faces, image=overlay, color=GT_COLOR,
            alpha=PRED_ALPHA)['image']
    if draw_gt and 'gt_keypoints_2d' in sample:
        overlay = draw_keypoints_2d(overlay,
                                    _field(sample, 'gt_keypoints_2d'))
    if draw_gt and 'gt_vertices' in sample:
        side_meshes.append(_field(sample, 'gt_vertices'))
        side_colors.append(GT_COLOR)
    panels = [overlay, draw_side_view(side_meshes, faces, size, side_colors)]
    if draw_pred and 'pred_heatmaps' in sample:
        grid = draw_heatmap_grid(image_bgr,
                                 _field(sample, 'pred_heatmaps'))
        panels.append(cv2.resize(grid, (size, size),
                                 interpolation=cv2.INTER_NEAREST))
    return np.concatenate(panels, axis=1)


@VISUALIZERS.register_module()
class MeshVisualizer(Visualizer):
    """mmengine visualizer for mesh predictions; images go to every
    configured vis backend (local files, TensorBoard, ...).

    Args:
        name: Instance name.
        faces: (F, 3) faces of the full mesh; :meth:`set_faces` may set
            them later (the visualization hook takes the model's).
        **kwargs: Other ``mmengine.visualization.Visualizer`` arguments
            (``vis_backends``, ``save_dir``, ...).
    """

    def __init__(self, name: str = 'visualizer',
                 faces: Optional[np.ndarray] = None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.faces: Optional[np.ndarray] = None
        if faces is not None:
            self.set_faces(faces)

    def set_faces(self, faces) -> None:
        """Set the (F, 3) integer faces (numpy or torch) to draw with."""
        faces = _to_numpy(faces)
        if faces.ndim != 2 or faces.shape[1] != 3 or \
                not np.issubdtype(faces.dtype, np.integer):
            raise ValueError(f'faces must be an (F, 3) integer array, got '
                             f'{faces.dtype} {faces.shape}')
        self.faces = faces.astype(np.int64)

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0) -> np.ndarray:
        """Draw a sample over its input crop and record the picture.

        Args:
            name: Image identifier for the backends.
            image: (S, S, 3) uint8 input crop, RGB (mmengine's convention).
            data_sample: The model's output sample (see
                :func:`draw_mesh_prediction` for the fields used).
            draw_gt: Draw GT keypoints and the GT mesh (side view).
            draw_pred: Draw the predicted mesh and heatmaps.
            show: Also show it in a window.
            wait_time: Seconds the window waits.
            out_file: Write this file (BGR, by mmcv) instead of recording
                the picture in the backends.
            step: Global step for the backends.

        Returns:
            np.ndarray: (S, 2 S or 3 S, 3) uint8 RGB picture.
        """
        if self.faces is None:
            raise ValueError('MeshVisualizer has no faces: pass faces= or '
                             'call set_faces()')
        if data_sample is None:
            raise ValueError('add_datasample needs a data_sample to draw')
        image_bgr = np.ascontiguousarray(np.asarray(image)[..., ::-1])
        drawn = draw_mesh_prediction(image_bgr, data_sample, self.faces,
                                     draw_gt=draw_gt, draw_pred=draw_pred)
        return self._record(name, drawn, show, wait_time, out_file, step)

    def add_people(self, name: str, image_bgr: np.ndarray, people: list,
                   focal: float, draw_bbox: bool = False,
                   draw_keypoints: bool = False, radius: int = 3,
                   thickness: int = 2, alpha: float = PRED_ALPHA,
                   show: bool = False, wait_time: float = 0,
                   out_file: Optional[str] = None,
                   step: int = 0) -> np.ndarray:
        """Draw every person of a full image with the perspective camera
        (one z-buffer, see :func:`~.overlay.draw_people`) and record it.

        Args:
            name: Image identifier for the backends.
            image_bgr: (H, W, 3) uint8 BGR full image.
            people: Person records of ``MeshInferencer`` (``vertices_cam``
                (N, 3), ``bbox`` (4,), ``mesh_keypoints_2d`` (J, 2)).
            focal: The focal length (pixels) the records were placed with.
            draw_bbox: Also draw each person's box.
            draw_keypoints: Also draw the 2D joints.
            radius: Joint dot radius (pixels).
            thickness: Box line width (pixels).
            alpha: Mesh opacity.
            show, wait_time, out_file, step: As :meth:`add_datasample`.

        Returns:
            np.ndarray: (H, W, 3) uint8 BGR picture.
        """
        if self.faces is None:
            raise ValueError('MeshVisualizer has no faces: pass faces= or '
                             'call set_faces()')
        drawn = draw_people(
            image_bgr, [p['vertices_cam'] for p in people], self.faces,
            focal, alpha=alpha,
            bboxes=[p['bbox'] for p in people] if draw_bbox else None,
            keypoints_2d=[p['mesh_keypoints_2d'] for p in people]
            if draw_keypoints else None, radius=radius, thickness=thickness)
        self._record(name, drawn, show, wait_time, out_file, step)
        return drawn

    def _record(self, name: str, drawn_bgr: np.ndarray, show: bool,
                wait_time: float, out_file: Optional[str],
                step: int) -> np.ndarray:
        """Show, write (``out_file``) or hand to the backends; returns the
        RGB picture."""
        drawn_rgb = np.ascontiguousarray(drawn_bgr[..., ::-1])
        if show:
            show_image(drawn_bgr, name, wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn_bgr, out_file)
        else:
            self.add_image(name, drawn_rgb, step)
        return drawn_rgb
