"""The keywords of a ``MeshInferencer`` call, checked before any work."""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from .boxes import BBOX_FORMATS
from .writers import MESH_FORMATS, check_writable

VIS_SUBDIR = 'vis'  # under out_dir, as mmpose's inferencer lays it out
PRED_SUBDIR = 'predictions'


@dataclass
class InferenceOptions:
    """What one call draws, writes and shows.

    Attributes:
        out_dir: Folder with ``vis/`` (pictures, videos) and
            ``predictions/`` (JSON, meshes, SMPL files, video results)
            under it; ``vis_out_dir``/``pred_out_dir`` override either.
        vis_out_dir: ``<name>_overlay.jpg`` and ``<name>_side.jpg`` per
            image, ``<name>_overlay.mp4`` per video.
        pred_out_dir: ``<name>.json`` and ``<name>_person<k>.<fmt>`` per
            image; ``<name>.npz`` (and ``.bvh`` per track with SMPL) per
            video.
        smpl_out_dir: ``<name>_smpl.npz`` (MMHuman3D's HumanData) per
            image or video; needs ``fit_smpl``. Default with ``out_dir``
            and ``fit_smpl``: ``predictions/``.
        batch_size: Crops per forward pass for this call.
        bbox_format: ``'xyxy'`` or ``'xywh'`` of given boxes.
        focal_length: Pixels; None: EXIF, else the image diagonal.
        show: Show each overlay in a window (needs a display).
        wait_time: Seconds a shown picture waits.
        return_vis: Put each overlay in the result (``visualization``).
        draw_bbox: Draw the person boxes on the overlay.
        draw_keypoints: Draw the 2D joints on the overlay.
        radius: Joint dot radius (pixels).
        thickness: Box line width (pixels).
        alpha: Mesh opacity on the overlay.
        mesh_formats: Per-person mesh files: any of ``('obj', 'glb')``.
        skip_errors: Log an input that cannot be read or has no usable
            box as skipped and go on, instead of raising.
        strict_boxes: With a box file, stop at an input it has no entry
            for (default: a warning, then the detector or the whole image).
        track: Videos: track people across frames (IoU + Hungarian).
        smooth: Videos: smooth each track (One-Euro filter).
        smooth_min_cutoff: One-Euro minimum cutoff (Hz).
        smooth_beta: One-Euro speed coefficient (the default, 5, is the
            measured trade-off of ``docs/benchmarks.md``).
    """
    out_dir: Optional[str] = None
    vis_out_dir: Optional[str] = None
    pred_out_dir: Optional[str] = None
    smpl_out_dir: Optional[str] = None
    batch_size: Optional[int] = None
    bbox_format: str = 'xyxy'
    focal_length: Optional[float] = None
    show: bool = False
    wait_time: float = 0.001
    return_vis: bool = False
    draw_bbox: bool = False
    draw_keypoints: bool = False
    radius: int = 3
    thickness: int = 2
    alpha: float = 0.8
    mesh_formats: Sequence[str] = ('obj', )
    skip_errors: bool = False
    strict_boxes: bool = False
    track: bool = True
    smooth: bool = False
    smooth_min_cutoff: float = 1.0
    smooth_beta: float = 5.0

    @property
    def wants_overlay(self) -> bool:
        return bool(self.vis_out_dir or self.show or self.return_vis)

    def check(self, fit_smpl: bool, has_display: Callable[[], bool]) -> None:
        """Refuse bad values and fill the folders under ``out_dir``."""
        if self.bbox_format not in BBOX_FORMATS:
            raise ValueError(f'bbox_format must be one of {BBOX_FORMATS}, '
                             f'got {self.bbox_format!r}')
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got '
                             f'{self.batch_size}')
        if self.focal_length is not None and not self.focal_length > 0:
            raise ValueError(f'focal_length must be positive (pixels), got '
                             f'{self.focal_length}')
        if isinstance(self.mesh_formats, str) or \
                set(self.mesh_formats) - set(MESH_FORMATS):
            raise ValueError(f'mesh_formats must be a list among '
                             f'{MESH_FORMATS}, got {self.mesh_formats!r}')
        if not 0. <= self.alpha <= 1.:
            raise ValueError(f'alpha must be in [0, 1], got {self.alpha}')
        if self.show and not has_display():
            raise RuntimeError('show=True needs a display and there is none'
                               ' (DISPLAY/WAYLAND_DISPLAY unset); use '
                               'out_dir= to write the pictures')
        if self.smpl_out_dir is not None and not fit_smpl:
            raise ValueError('smpl_out_dir needs MeshInferencer(..., '
                             'fit_smpl=True)')
        if self.out_dir is not None:
            out = Path(self.out_dir)
            self.vis_out_dir = self.vis_out_dir or str(out / VIS_SUBDIR)
            self.pred_out_dir = self.pred_out_dir or str(out / PRED_SUBDIR)
            if fit_smpl and self.smpl_out_dir is None:
                self.smpl_out_dir = self.pred_out_dir

    def make_folders(self) -> None:
        """Create the output folders and prove each takes a file, before
        any input is read (an unwritable folder fails the call at once)."""
        for what, folder in (('vis_out_dir', self.vis_out_dir),
                             ('pred_out_dir', self.pred_out_dir),
                             ('smpl_out_dir', self.smpl_out_dir)):
            if folder is not None:
                check_writable(folder, what)
