"""One object for inference on any input, in the manner of mmpose's
``MMPoseInferencer``: image paths, folders, arrays and videos in; meshes,
pictures and prediction files out.

Shape shorthand: P people in an image, N full-mesh vertices.
"""
import json
import logging
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement
from tqdm import tqdm

from pointhmr_mm.utils.keypoints import H36M_TO_J14
from pointhmr_mm.visualization import (MeshRenderer, draw_side_view,
                                       weak_perspective_to_screen)
from .inference import (BBOX_FORMATS, VIDEO_SUFFIXES, inference_mesh,
                        init_model, to_xyxy)

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
VIDEO_EXTS = VIDEO_SUFFIXES
MESH_RGB = (0.65, 0.74, 0.86)
MESH_ALPHA = 0.8
SIDE_PANEL = 512
SMPL_PREFIX = 'pred_smpl_'
DEFAULT_VIDEO_FPS = 25.

InputLike = Union[str, Path, np.ndarray]


def has_display() -> bool:
    """Windows and macOS always; elsewhere an X11 or Wayland display."""
    if sys.platform in ('win32', 'darwin'):
        return True
    return bool(os.environ.get('DISPLAY') or
                os.environ.get('WAYLAND_DISPLAY'))


def _numpy(value) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, 'detach') \
        else np.asarray(value)


def person_record(sample: BaseDataElement) -> Tuple[dict, np.ndarray]:
    """One person's predictions as arrays, and its mesh in image pixels.

    Returns:
        tuple: dict with ``vertices`` (N, 3) and ``keypoints_3d`` (14, 3)
        in metres (camera frame, pelvis-centred), ``keypoints_2d`` (14, 2)
        in original-image pixels, ``camera`` (3, ) weak perspective,
        ``bbox`` (4, ) xyxy and every ``pred_smpl_*`` field the model gave;
        and the (N, 3) screen vertices for drawing.
    """
    crop = sample.img_shape[0]
    to_image = cv2.invertAffineTransform(np.asarray(sample.crop_matrix))
    verts = _numpy(sample.pred_vertices)
    camera = _numpy(sample.pred_camera)
    joints = _numpy(sample.pred_keypoints_3d_h36m)[list(H36M_TO_J14)]
    record = dict(
        vertices=verts, keypoints_3d=joints,
        keypoints_2d=weak_perspective_to_screen(joints, camera, crop,
                                                to_image)[:, :2],
        camera=camera, bbox=np.asarray(sample.bbox, dtype=np.float64))
    for key in sample.keys():
        if key.startswith(SMPL_PREFIX):
            record[key[len('pred_'):]] = _numpy(getattr(sample, key))
    return record, weak_perspective_to_screen(verts, camera, crop, to_image)


def collect_inputs(source: InputLike) -> List[Union[Path, np.ndarray]]:
    """Files to run on: the file itself, or a folder's images and videos
    (others are logged as skipped, with the reason)."""
    if isinstance(source, np.ndarray):
        return [source]
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f'{source}: no such file or folder')
    if not source.is_dir():
        return [source]
    kept = []
    for path in sorted(source.iterdir()):
        if path.is_dir():
            reason = 'a folder (folders are not searched)'
        elif path.suffix.lower() in IMAGE_EXTS + VIDEO_EXTS:
            kept.append(path)
            continue
        else:
            reason = (f'not an image or video (extension "{path.suffix}"; '
                      f'read: {" ".join(IMAGE_EXTS + VIDEO_EXTS)})')
        print_log(f'skipped {path.name}: {reason}', logger='current',
                  level=logging.WARNING)
    if not kept:
        raise FileNotFoundError(f'{source}: no images or videos in the '
                                'folder')
    return kept


def output_names(paths: Sequence[Path]) -> Dict[Path, str]:
    """Output stem per input; inputs that share a stem (``a.jpg``,
    ``a.png``) get their extension in it (``a_jpg``, ``a_png``), so their
    outputs do not overwrite each other."""
    counts = Counter(p.stem for p in paths)
    return {p: p.stem if counts[p.stem] == 1 else
            f'{p.stem}_{p.suffix.lstrip(".").lower()}' for p in paths}


class MeshInferencer:
    """Build a model once and run it on images, folders, arrays or videos.

    Args:
        config: Config file or object.
        checkpoint: Checkpoint file (URLs are refused: nothing is
            downloaded); None keeps random weights.
        device: 'cpu', 'cuda', ...
        batch_size: Crops per forward pass.
        fit_smpl: Also fit SMPL parameters to each mesh
            (``test_cfg.fit_smpl``; ``pred_smpl_*`` fields).
        cfg_options: Config overrides.
        fuse_conv_bn: Fold the batch norms into the convolutions
            (``PointHMR.fuse_conv_bn``, about 10% faster; outputs equal
            to float rounding).

    Example:
        >>> inferencer = MeshInferencer('configs/quickstart/'
        ...     'pointhmr_quickstart.py', 'work_dirs/x/epoch_4.pth')
        >>> results = inferencer('photos/', vis_out_dir='vis',
        ...                      pred_out_dir='preds')
    """

    def __init__(self, config, checkpoint: Optional[str] = None,
                 device: str = 'cpu', batch_size: int = 16,
                 fit_smpl: bool = False,
                 cfg_options: Optional[dict] = None,
                 fuse_conv_bn: bool = True):
        self.model = init_model(config, checkpoint, device, cfg_options,
                                fuse_conv_bn=fuse_conv_bn)
        self.fit_smpl = fit_smpl
        if fit_smpl:
            self.model.test_cfg = dict(self.model.test_cfg or {},
                                       fit_smpl=True)
        self.batch_size = batch_size
        self.skipped: List[Tuple[str, str]] = []
        self.faces = self.model.body_model.faces.cpu().numpy()

    # ------------------------------------------------------------------ #
    @staticmethod
    def _boxes_inside(boxes: np.ndarray, shape, name: str) -> np.ndarray:
        """Boxes that overlap the image; the others are dropped with a
        warning (a detector's stray box should not end a run)."""
        height, width = shape[:2]
        inside = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]) \
            & (boxes[:, 2] > 0) & (boxes[:, 3] > 0) & \
            (boxes[:, 0] < width) & (boxes[:, 1] < height)
        for box in boxes[~inside]:
            print_log(f'{name}: bbox {box.tolist()} is outside the {width}x'
                      f'{height} image (or has no area); skipped',
                      logger='current', level=logging.WARNING)
        if not inside.any():
            raise ValueError(f'{name}: no usable bbox')
        return boxes[inside]

    def predict(self, image: np.ndarray, bboxes=None,
                bbox_format: str = 'xyxy',
                name: str = 'image') -> Tuple[List[dict], list]:
        """Person records (:func:`person_record`) and screen meshes of one
        BGR image; boxes outside it are dropped with a warning."""
        if bboxes is not None and len(bboxes):
            bboxes = self._boxes_inside(to_xyxy(bboxes, bbox_format),
                                        image.shape, name)
            bbox_format = 'xyxy'
        samples = inference_mesh(self.model, image, bboxes,
                                 self.batch_size, bbox_format)
        if self.fit_smpl and not any(k.startswith(SMPL_PREFIX)
                                     for k in samples[0].keys()):
            raise RuntimeError(
                f'fit_smpl=True, but {type(self.model).__name__} gave no '
                f'{SMPL_PREFIX}* fields (its test_cfg.fit_smpl is unknown)')
        pairs = [person_record(s) for s in samples]
        return [p for p, _ in pairs], [s for _, s in pairs]

    def draw(self, image: np.ndarray, screens: list) -> np.ndarray:
        """Meshes over the image (BGR)."""
        if not screens:
            return image.copy()
        return MeshRenderer(image.shape[:2]).render(
            screens, self.faces, image=image, color=MESH_RGB,
            alpha=MESH_ALPHA)['image']

    # ------------------------------------------------------------------ #
    def __call__(self, inputs: Union[InputLike, Sequence[InputLike]],
                 bboxes=None, bbox_format: str = 'xyxy',
                 vis_out_dir: Optional[str] = None,
                 pred_out_dir: Optional[str] = None,
                 show: bool = False, wait_time: float = 0.001,
                 return_vis: bool = False,
                 skip_errors: bool = False,
                 smpl_out_dir: Optional[str] = None) -> List[dict]:
        """Run on ``inputs``.

        Args:
            inputs: An image or video path, a folder, a BGR (H, W, 3)
                uint8 array, or a list of these.
            bboxes: Person boxes: for one image or array, (P, 4) or (P, 5)
                boxes; otherwise a dict by file name as
                :func:`load_bbox_file` returns (videos: by frame). None:
                the whole image is one person.
            bbox_format: ``'xyxy'`` or ``'xywh'`` for ``bboxes``.
            vis_out_dir: Write ``<name>_overlay.jpg`` and
                ``<name>_side.jpg`` (videos: ``<name>_overlay.mp4``).
            pred_out_dir: Write ``<name>.json`` and ``<name>_person<k>.obj``
                (videos: ``<name>.npz`` with a ``frame`` index per person).
            show: Show each overlay in a window (needs a display).
            wait_time: Seconds a shown picture waits.
            return_vis: Also return each image's overlay (not for videos).
            smpl_out_dir: Write each image's (video's) fitted SMPL
                parameters to ``<name>_smpl.npz`` in MMHuman3D's layout
                (``pointhmr_mm.apis.smpl_export.save_smpl_params``); needs
                ``fit_smpl=True``.
            skip_errors: Log an input that cannot be read or has no usable
                box as skipped (``self.skipped``) and go on, instead of
                raising.

        Returns:
            list: One dict per image or video frame: ``name``, ``frame``
            (videos), ``predictions`` (person records) and, with
            ``return_vis``, ``visualization`` (BGR overlay).
        """
        if bbox_format not in BBOX_FORMATS:
            raise ValueError(f'bbox_format must be one of {BBOX_FORMATS}, '
                             f'got {bbox_format!r}')
        if show and not has_display():
            raise RuntimeError('show=True needs a display and there is none'
                               ' (DISPLAY/WAYLAND_DISPLAY unset); use '
                               'vis_out_dir= to write the pictures')
        if smpl_out_dir is not None and not self.fit_smpl:
            raise ValueError('smpl_out_dir needs MeshInferencer(..., '
                             'fit_smpl=True)')
        items = self._items(inputs)
        per_name = isinstance(bboxes, dict)
        if bboxes is not None and not per_name and len(items) != 1:
            raise ValueError('bboxes for several inputs must be a dict by '
                             'file name')
        for folder in (vis_out_dir, pred_out_dir, smpl_out_dir):
            if folder is not None:
                Path(folder).mkdir(parents=True, exist_ok=True)
        options = dict(vis_out_dir=vis_out_dir, pred_out_dir=pred_out_dir,
                       show=show, wait_time=wait_time, return_vis=return_vis,
                       bbox_format=bbox_format, smpl_out_dir=smpl_out_dir)
        results, self.skipped = [], []
        for name, item in tqdm(items, desc='inference',
                               disable=len(items) == 1):
            boxes = bboxes.get(item.name) if per_name and isinstance(
                item, Path) else bboxes
            try:
                if isinstance(item, Path) and \
                        item.suffix.lower() in VIDEO_EXTS:
                    results.extend(self._run_video(item, name, boxes,
                                                   options))
                else:
                    results.append(self._run_image(item, name, boxes,
                                                   options))
            except (ValueError, OSError) as err:
                if not skip_errors:
                    raise
                self.skipped.append((name, str(err)))
                print_log(f'skipped {name}: {err}', logger='current',
                          level=logging.ERROR)
        return results

    def _items(self, inputs) -> List[Tuple[str, Union[Path, np.ndarray]]]:
        sources = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        files = [f for source in sources for f in collect_inputs(source)]
        names = output_names([f for f in files if isinstance(f, Path)])
        arrays = iter(range(len(files)))
        return [(names[f] if isinstance(f, Path) else
                 f'array_{next(arrays)}', f) for f in files]

    def _run_image(self, item, name: str, boxes, options: dict) -> dict:
        image = item if isinstance(item, np.ndarray) else cv2.imread(
            str(item))
        if image is None:
            raise ValueError(f'{item}: unreadable image')
        people, screens = self.predict(image, boxes,
                                       options['bbox_format'], name)
        overlay = None
        if options['vis_out_dir'] or options['show'] or \
                options['return_vis']:
            overlay = self.draw(image, screens)
        if options['vis_out_dir']:
            out = Path(options['vis_out_dir'])
            cv2.imwrite(str(out / f'{name}_overlay.jpg'), overlay)
            side = draw_side_view([p['vertices'] for p in people],
                                  self.faces, SIDE_PANEL,
                                  [MESH_RGB] * len(people))
            cv2.imwrite(str(out / f'{name}_side.jpg'), side)
        if options['pred_out_dir']:
            self._write_image_predictions(item, name, people,
                                          Path(options['pred_out_dir']))
        if options['show']:
            self._show(overlay, name, options['wait_time'])
        if options['smpl_out_dir']:
            self._write_smpl(people, name, options['smpl_out_dir'])
        result = dict(name=name, predictions=people)
        if options['return_vis']:
            result['visualization'] = overlay
        return result

    def _write_image_predictions(self, item, name: str, people: List[dict],
                                 out: Path) -> None:
        import trimesh  # here, not at import: training never needs it
        for k, person in enumerate(people):
            trimesh.Trimesh(person['vertices'], self.faces,
                            process=False).export(
                                out / f'{name}_person{k}.obj')
        source = str(item) if isinstance(item, Path) else name
        (out / f'{name}.json').write_text(json.dumps(dict(
            image=source, people=[{k: np.asarray(v).tolist()
                                   for k, v in p.items()} for p in people])))

    def _frames(self, path: Path) -> Iterator[Tuple[int, np.ndarray, float]]:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise ValueError(f'{path}: unreadable video')
        fps = capture.get(cv2.CAP_PROP_FPS) or DEFAULT_VIDEO_FPS
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        try:
            for index in tqdm(range(total) if total else iter(int, 1),
                              desc=path.name):
                ok, frame = capture.read()
                if not ok:
                    break
                yield index, frame, fps
        finally:
            capture.release()

    def _run_video(self, path: Path, name: str, boxes,
                   options: dict) -> List[dict]:
        """Frames one by one; ``boxes``: {frame index: boxes} (frames
        without an entry are one whole-frame person)."""
        if boxes is not None and not isinstance(boxes, dict):
            raise ValueError(f'{path.name}: boxes of a video must be given '
                             'per frame ({frame index: boxes})')
        writer, results, unboxed = None, [], 0
        for index, frame, fps in self._frames(path):
            frame_boxes = None if boxes is None else boxes.get(index)
            unboxed += boxes is not None and frame_boxes is None
            people, screens = self.predict(frame, frame_boxes,
                                           options['bbox_format'],
                                           f'{path.name} frame {index}')
            results.append(dict(name=name, frame=index, predictions=people))
            if options['vis_out_dir'] or options['show']:
                overlay = self.draw(frame, screens)
                if options['vis_out_dir'] and writer is None:
                    writer = cv2.VideoWriter(
                        str(Path(options['vis_out_dir']) /
                            f'{name}_overlay.mp4'),
                        cv2.VideoWriter_fourcc(*'mp4v'), fps,
                        (frame.shape[1], frame.shape[0]))
                if writer is not None:
                    writer.write(overlay)
                if options['show']:
                    self._show(overlay, name, options['wait_time'])
        if writer is not None:
            writer.release()
        if not results:
            raise ValueError(f'{path}: no frames')
        if unboxed:
            print_log(f'{path.name}: {unboxed} of {len(results)} frames have'
                      ' no box in the bbox file; the whole frame was used',
                      logger='current', level=logging.WARNING)
        if options['smpl_out_dir']:
            self._write_smpl([p for r in results for p in r['predictions']],
                             name, options['smpl_out_dir'])
        if options['pred_out_dir']:
            people = [(r['frame'], k, p) for r in results
                      for k, p in enumerate(r['predictions'])]
            arrays = {key: np.stack([p[key] for _, _, p in people])
                      for key in people[0][2]}
            np.savez(Path(options['pred_out_dir']) / f'{name}.npz',
                     frame=np.array([f for f, _, _ in people]),
                     person=np.array([k for _, k, _ in people]), **arrays)
        return results

    @staticmethod
    def _write_smpl(people: List[dict], name: str, folder: str) -> None:
        """``<name>_smpl.npz``: the people's ``smpl_*`` fields through
        issue 12's MMHuman3D writer (which reads ``pred_smpl_*`` keys)."""
        from .smpl_export import save_smpl_params
        save_smpl_params(
            Path(folder) / f'{name}_smpl.npz',
            [{f'pred_{k}': v for k, v in p.items() if k.startswith('smpl_')}
             for p in people])

    @staticmethod
    def _show(image_bgr: np.ndarray, name: str, wait_time: float) -> None:
        import matplotlib.pyplot as plt
        plt.figure('MeshInferencer')
        plt.clf()
        plt.title(name)
        plt.imshow(image_bgr[..., ::-1])
        plt.axis('off')
        plt.pause(max(wait_time, 1e-3))
