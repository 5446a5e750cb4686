"""Person boxes: formats, the one check against an image, and box files.

Shape shorthand: P people.
"""
import json
import logging
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np
from mmengine.logging import print_log

BBOX_FORMATS = ('xyxy', 'xywh')


class MissingBoxesError(LookupError):
    """A box file has no entry for an input and ``strict_boxes`` is on:
    the run stops (it is not one input's error to skip)."""
# a bbox file's entries for these are per frame
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mov', '.mkv')


def to_xyxy(bboxes, bbox_format: str = 'xyxy') -> np.ndarray:
    """(P, 4) xyxy boxes from ``bboxes`` (P, 4) or (P, 5) (a trailing score
    is dropped) in ``bbox_format``: ``'xyxy'`` (corners) or ``'xywh'``
    (top-left corner, width, height; COCO's)."""
    if bbox_format not in BBOX_FORMATS:
        raise ValueError(f'bbox_format must be one of {BBOX_FORMATS}, got '
                         f'{bbox_format!r}')
    boxes = np.asarray(bboxes, dtype=np.float64)
    if boxes.size == 0:  # an image or frame without people
        return np.zeros((0, 4))
    boxes = boxes.reshape(-1, boxes.shape[-1] if boxes.ndim else 0)
    if boxes.shape[1] not in (4, 5):
        raise ValueError(f'bboxes must be (N, 4) or (N, 5) {bbox_format}'
                         f'[score], got {np.shape(bboxes)}')
    boxes = boxes[:, :4].copy()
    if bbox_format == 'xywh':
        boxes[:, 2:] += boxes[:, :2]
    return boxes


def check_boxes(boxes: np.ndarray, shape, name: str = 'image',
                drop_bad: bool = False) -> np.ndarray:
    """The boxes that have an area and overlap the image.

    Args:
        boxes: (P, 4) xyxy pixels.
        shape: The image's shape, (H, W, ...).
        name: What messages call the image.
        drop_bad: Drop a bad box with a warning (a detector's stray box
            should not end a run) instead of raising.

    Returns:
        np.ndarray: (P', 4) the usable boxes.

    Raises:
        ValueError: A bad box (unless ``drop_bad``), or none is usable.
    """
    height, width = shape[:2]
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    has_area = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    inside = (boxes[:, 2] > 0) & (boxes[:, 3] > 0) & \
        (boxes[:, 0] < width) & (boxes[:, 1] < height)
    for i in np.flatnonzero(~(has_area & inside)):
        why = 'has no area' if not has_area[i] else \
            f'lies outside the {width}x{height} image'
        message = f'{name}: bbox {i} {boxes[i].tolist()} {why}'
        if not drop_bad:
            raise ValueError(message)
        print_log(message + '; skipped', logger='current',
                  level=logging.WARNING)
    kept = boxes[has_area & inside]
    if len(boxes) and not len(kept):
        raise ValueError(f'{name}: no usable bbox')
    return kept


def _entry(path, name: str, value, bbox_format: str):
    if isinstance(value, dict):
        return {int(frame): to_xyxy(b, bbox_format).tolist()
                for frame, b in value.items()}
    if Path(name).suffix.lower() in VIDEO_SUFFIXES:
        return {frame: to_xyxy(b, bbox_format).tolist()
                for frame, b in enumerate(value) if len(b)}
    return to_xyxy(value, bbox_format).tolist()


def load_bbox_file(path: Union[str, Path],
                   bbox_format: str = 'xyxy') -> Dict[str, object]:
    """Boxes per input file from a JSON file.

    Layouts: ``{"a.jpg": [[x1, y1, x2, y2], ...], "clip.mp4": {"0":
    [[...]], "7": [[...]]}}`` (a video maps frame indices, or a list with
    one entry per frame, to boxes), in ``bbox_format``; or COCO
    (``images`` with ``file_name``, ``annotations`` with ``bbox``, always
    xywh). Keys are the names as written (``cam1/000001.jpg``); see
    :func:`boxes_for` for the lookup. Returns xyxy boxes: ``{name:
    [[...]]}`` for images, ``{name: {frame: [[...]]}}`` for videos.

    Raises:
        ValueError: A layout or box that does not fit, naming the entry.
    """
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f'--bbox-file {path}: not JSON ({err})') from err
    if isinstance(data, dict) and 'annotations' in data:
        names = {im['id']: Path(im['file_name']).as_posix()
                 for im in data.get('images', [])}
        boxes: Dict[str, object] = {}
        for ann in data['annotations']:
            name = names.get(ann['image_id'], str(ann['image_id']))
            boxes.setdefault(name, []).extend(
                to_xyxy([ann['bbox']], 'xywh').tolist())
        return boxes
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a dict of boxes per file name '
                         'or a COCO file')
    boxes = {}
    for name, value in data.items():
        try:
            boxes[Path(name).as_posix()] = _entry(path, name, value,
                                                  bbox_format)
        except (ValueError, TypeError) as err:
            raise ValueError(f'{path}: "{name}": {err}') from err
    return boxes


def boxes_for(boxes: Dict[str, object], rel_path: str) -> Optional[object]:
    """The entry of a box file for an input: by its path relative to the
    folder given (``cam1/000001.jpg``), else by a key that ends with it,
    else by its file name alone when that is unambiguous. None when the
    file has no entry."""
    if rel_path in boxes:
        return boxes[rel_path]
    tail = [k for k in boxes if k.endswith('/' + rel_path)]
    if len(tail) == 1:
        return boxes[tail[0]]
    name = Path(rel_path).name
    same = [k for k in boxes if Path(k).name == name]
    return boxes[same[0]] if len(same) == 1 else None
