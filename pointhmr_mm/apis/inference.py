"""Python API: build a model from a config and run it on images, in the
manner of MMPose's ``init_model`` / ``inference_topdown``."""
import json
import pickle
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from mmengine.structures import BaseDataElement

from pointhmr_mm.registry import MODELS
from pointhmr_mm.setup_env import register_all_modules

DEFAULT_CROP = 224
# A detector's box is tight; the crop gets this much context around it.
BBOX_PADDING = 1.2

ImageLike = Union[str, Path, np.ndarray]


def crop_size_of(cfg: Config) -> int:
    """The crop side (pixels) of the config's test pipeline's
    ``MeshAffineCrop`` (224, the released model's, without one)."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    for step in loader.get('dataset', {}).get('pipeline', []):
        if step.get('type') == 'MeshAffineCrop':
            return int(step.get('crop_size', DEFAULT_CROP))
    return DEFAULT_CROP


_crop_size = crop_size_of  # tools/deploy/export_onnx.py's name for it


URL_PREFIXES = ('http://', 'https://', 's3://', 'ftp://')
CHECKPOINT_DIR = 'checkpoints'
ZIP_MAGIC = b'PK\x03\x04'
PICKLE_PROTO = b'\x80'


def load_checkpoint_file(path: Union[str, Path]) -> dict:
    """``torch.load(path, weights_only=True)`` on the CPU, with errors that
    say what is wrong with the file.

    Raises:
        ValueError: ``path`` is a URL (nothing is downloaded), or the file
            is not a PyTorch checkpoint, or not a dict.
        FileNotFoundError: No such file.
    """
    path = str(path)
    if path.startswith(URL_PREFIXES):
        name = path.rstrip('/').rsplit('/', 1)[-1] or 'model.pth'
        raise ValueError(
            f'{path}: checkpoint downloads are not supported (nothing is '
            f'fetched at run time); download it yourself, e.g. to '
            f'{CHECKPOINT_DIR}/{name}, and pass that path')
    if not Path(path).is_file():
        raise FileNotFoundError(f'{path}: no such checkpoint')
    with open(path, 'rb') as f:
        head = f.read(len(ZIP_MAGIC))
    # torch.save writes a zip archive (a pickle before torch 1.6)
    if not (head == ZIP_MAGIC or head[:1] == PICKLE_PROTO):
        raise ValueError(f'{path} is not a PyTorch checkpoint (it starts '
                         f'with {head!r}, not a zip archive or a pickle)')
    import pointhmr_mm.engine  # noqa: F401  (allow-lists mmengine's objects)
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        reason = [line for line in str(err).splitlines()
                  if 'WeightsUnpickler error' in line]
        raise ValueError(
            f'{path}: not a checkpoint that loads safely (weights_only='
            f'True): {reason[0].strip() if reason else err}') from err
    except (EOFError, RuntimeError, zipfile.BadZipFile) as err:
        raise ValueError(f'{path} is not a PyTorch checkpoint (or is '
                         f'truncated): {err}') from err
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{path}: expected a dict (state_dict, meta, ...), '
                         f'got {type(checkpoint).__name__}')
    return checkpoint


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None, device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               fuse_conv_bn: bool = False) -> torch.nn.Module:
    """Build PointHMR from a config and load a checkpoint.

    Args:
        config: Config file or object.
        checkpoint: Checkpoint path; None keeps random weights.
        device: 'cpu', 'cuda', 'cuda:1', ...
        cfg_options: Overrides merged into the config.
        fuse_conv_bn: Fold the batch norms into the convolutions
            (``PointHMR.fuse_conv_bn``): faster inference, but the model
            can no longer be trained and its state dict changes.

    Returns:
        The model in eval mode, with ``model.cfg`` set.
    """
    register_all_modules()
    cfg = config if isinstance(config, Config) else Config.fromfile(
        str(config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    # refuse a URL, a missing file or a non-checkpoint before building
    state = None if checkpoint is None else load_checkpoint_file(checkpoint)
    model = MODELS.build(cfg.model)
    if state is not None:
        _load_checkpoint_to_model(model, state)
    model.cfg = cfg
    model = model.to(device).eval()
    if fuse_conv_bn:
        model.fuse_conv_bn()
    return model


BBOX_FORMATS = ('xyxy', 'xywh')
# a bbox file's entries for these are per frame
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mov', '.mkv')


def to_xyxy(bboxes, bbox_format: str = 'xyxy') -> np.ndarray:
    """(N, 4) xyxy boxes from ``bboxes`` (N, 4) or (N, 5) (a trailing score
    is dropped) in ``bbox_format``: ``'xyxy'`` (corners) or ``'xywh'``
    (top-left corner, width, height; COCO's)."""
    if bbox_format not in BBOX_FORMATS:
        raise ValueError(f'bbox_format must be one of {BBOX_FORMATS}, got '
                         f'{bbox_format!r}')
    boxes = np.asarray(bboxes, dtype=np.float64)
    boxes = boxes.reshape(-1, boxes.shape[-1] if boxes.ndim else 0)
    if boxes.shape[1] not in (4, 5):
        raise ValueError(f'bboxes must be (N, 4) or (N, 5) {bbox_format}'
                         f'[score], got {np.shape(bboxes)}')
    boxes = boxes[:, :4].copy()
    if bbox_format == 'xywh':
        boxes[:, 2:] += boxes[:, :2]
    return boxes


def _boxes(bboxes, shape, bbox_format: str = 'xyxy') -> np.ndarray:
    """(N, 4) xyxy boxes, checked against the image ``shape``."""
    height, width = shape[:2]
    if bboxes is None or len(bboxes) == 0:
        return np.array([[0., 0., width, height]])
    boxes = to_xyxy(bboxes, bbox_format)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f'bbox {i} {boxes[i].tolist()} has no area')
        if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
            raise ValueError(f'bbox {i} {boxes[i].tolist()} lies outside '
                             f'the {width}x{height} image')
    return boxes


def load_bbox_file(path: Union[str, Path],
                   bbox_format: str = 'xyxy') -> Dict[str, object]:
    """Boxes per input file name from a JSON file.

    Layouts: ``{"a.jpg": [[x1, y1, x2, y2], ...], "clip.mp4": {"0":
    [[...]], "7": [[...]]}}`` (a video maps frame indices, or a list with
    one entry per frame, to boxes), in ``bbox_format``; or COCO
    (``images`` with ``file_name``, ``annotations`` with ``bbox``, always
    xywh). Returns xyxy boxes: ``{name: [[...]]}`` for images, ``{name:
    {frame: [[...]]}}`` for videos.

    Raises:
        ValueError: A layout or box that does not fit, naming the entry.
    """
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f'--bbox-file {path}: not JSON ({err})') from err
    if isinstance(data, dict) and 'annotations' in data:
        names = {im['id']: Path(im['file_name']).name
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
        where = f'{path}: "{name}"'
        try:
            if isinstance(value, dict):
                boxes[Path(name).name] = {
                    int(frame): to_xyxy(b, bbox_format).tolist()
                    for frame, b in value.items()}
            elif Path(name).suffix.lower() in VIDEO_SUFFIXES:
                boxes[Path(name).name] = {
                    frame: to_xyxy(b, bbox_format).tolist()
                    for frame, b in enumerate(value) if len(b)}
            else:
                boxes[Path(name).name] = to_xyxy(value, bbox_format).tolist()
        except (ValueError, TypeError) as err:
            raise ValueError(f'{where}: {err}') from err
    return boxes


def strip_empty_gt(sample: BaseDataElement) -> BaseDataElement:
    """Delete the GT fields ``sample`` only carries as zeros (an image
    without labels packs zeros, see ``PackMeshInputs``), in place."""
    from pointhmr_mm.evaluation.metrics.dump_mesh_results import \
        drop_empty_gt
    kept = drop_empty_gt(dict(sample.items()))
    for key in list(sample.keys()):
        if key not in kept:
            delattr(sample, key)
    return sample


def inference_mesh(model: torch.nn.Module, img: ImageLike,
                   bboxes: Optional[Sequence] = None,
                   batch_size: int = 16,
                   bbox_format: str = 'xyxy') -> List[BaseDataElement]:
    """Recover one mesh per box.

    Args:
        model: From :func:`init_model`.
        img: Image path or BGR uint8 array (H, W, 3).
        bboxes: (N, 4) pixel boxes (or (N, 5) with a score), one per
            person; None uses the whole image.
        batch_size: Crops per forward pass.
        bbox_format: ``'xyxy'`` or ``'xywh'`` (see :func:`to_xyxy`).

    Returns:
        One data sample per box, with the predictions of
        ``docs/conventions.md`` and metainfo ``crop_matrix`` (original
        pixels -> crop pixels), ``bbox`` (xyxy), ``img_shape`` and
        ``ori_shape``; no GT fields (an image has no labels).
    """
    cfg = model.cfg
    pipeline = Compose([
        dict(type='LoadMeshImage'),
        dict(type='MeshAffineCrop', crop_size=crop_size_of(cfg)),
        dict(type='PackMeshInputs')
    ])
    if isinstance(img, (str, Path)):
        base = dict(img_path=str(img))
        from pointhmr_mm.datasets.transforms import LoadMeshImage
        base = LoadMeshImage()(base)  # decode once for every box
    else:
        if not (isinstance(img, np.ndarray) and img.ndim == 3):
            raise ValueError('img must be a path or an (H, W, 3) array')
        base = dict(img=img, img_path='<array>')
    boxes = _boxes(bboxes, base['img'].shape, bbox_format)
    items = []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        items.append(pipeline(dict(
            img=base['img'], img_path=base['img_path'], sample_idx=i,
            bbox_center=np.array([(x0 + x1) / 2, (y0 + y1) / 2]),
            bbox_size=max(x1 - x0, y1 - y0) *
            (BBOX_PADDING if bboxes is not None else 1.))))
    results = []
    for start in range(0, len(items), batch_size):
        batch = pseudo_collate(items[start:start + batch_size])
        with torch.no_grad():
            outputs = model.test_step(batch)
        for out, box in zip(outputs, boxes[start:start + batch_size]):
            out.set_metainfo(dict(bbox=box))
            results.append(strip_empty_gt(out))
    return results
