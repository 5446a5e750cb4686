"""Python API: build a model from a config and run it on images, in the
manner of MMPose's ``init_model`` / ``inference_topdown``."""
import logging
import pickle
import zipfile
from pathlib import Path
from typing import List, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from pointhmr_mm.engine.entry_points import merge_cfg_options
from pointhmr_mm.engine.safe_load import allow_mmengine_checkpoints
from pointhmr_mm.registry import MODELS
from pointhmr_mm.setup_env import register_all_modules
from pointhmr_mm.utils.geometry import cam_crop_to_full
from pointhmr_mm.utils.image_io import read_image
from pointhmr_mm.utils.state_dict import check_state_dict
from .boxes import check_boxes, to_xyxy
from .focal_length import resolve_focal

# A detector's box is tight; the crop gets this much context around it.
BBOX_PADDING = 1.2

ImageLike = Union[str, Path, np.ndarray]


def _pipeline_steps(cfg: Config) -> list:
    """The config's test (else val) pipeline, as a list of step dicts."""
    for name in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(name) or {}
        steps = (loader.get('dataset') or {}).get('pipeline')
        if steps:
            return [dict(step) for step in steps]
    return []


def crop_size_of(cfg_or_model) -> int:
    """The crop side (pixels) the model takes, as its mesh-target
    component declares it (``model.mesh_targets.crop_size``).

    Args:
        cfg_or_model: A model from :func:`init_model` or a config.
    """
    targets = getattr(cfg_or_model, 'mesh_targets', None)
    if targets is None:  # a config, or a model that carries one
        cfg = getattr(cfg_or_model, 'cfg', cfg_or_model)
        size = cfg.get('model', {}).get('mesh_targets', {}).get('crop_size')
    else:
        size = targets.crop_size
    if size is None:
        raise KeyError('the config has no model.mesh_targets.crop_size')
    return int(size)


def build_test_pipeline(model: torch.nn.Module) -> Compose:
    """The config's test pipeline made fit for plain images.

    mmpose's way: the steps are the config's (``test_dataloader``, else
    ``val_dataloader``), so a recipe's own test-time steps apply. Only what
    a labelled dataset sample has and an image does not is adapted:
    ``LoadMeshImage`` first (it passes decoded arrays through),
    ``MeshAffineCrop`` at the model's input size (:func:`crop_size_of`;
    added when the config has none), and
    ``PackMeshInputs(with_labels=False)`` last, so that no GT field is
    packed. A config without a pipeline gets those three steps.
    """
    steps = [s for s in _pipeline_steps(model.cfg)
             if s.get('type') not in ('LoadMeshImage', 'PackMeshInputs')]
    if not any(s.get('type') == 'MeshAffineCrop' for s in steps):
        steps.append(dict(type='MeshAffineCrop'))
    for step in steps:  # the model's input size is the one that fits
        if step.get('type') == 'MeshAffineCrop':
            step['crop_size'] = crop_size_of(model)
    pack = [s for s in _pipeline_steps(model.cfg)
            if s.get('type') == 'PackMeshInputs']
    pack = dict(pack[-1] if pack else dict(type='PackMeshInputs'),
                with_labels=False)
    return Compose([dict(type='LoadMeshImage')] + steps + [pack])


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
    allow_mmengine_checkpoints()
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


def load_state(model: torch.nn.Module, checkpoint: dict, source: str,
               strict: bool = True) -> None:
    """Load a checkpoint dict's weights (``state_dict``, or the dict
    itself; a ``module.`` prefix of wrapped models is dropped).

    Strict: ``load_state_dict(strict=True)`` first, so that the model's own
    load hooks (renamed keys of older checkpoints) still apply; when it
    fails, :func:`~pointhmr_mm.utils.state_dict.check_state_dict` says why
    in a few lines. Not strict: what fits is loaded and the rest is logged.
    """
    state = checkpoint.get('state_dict', checkpoint)
    state = {k[len('module.'):] if k.startswith('module.') else k: v
             for k, v in state.items()}
    if strict:
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            check_state_dict(model, state, source)
            raise RuntimeError(f'{source}: {err}') from err
        return
    own = model.state_dict()
    fits = {k: v for k, v in state.items()
            if k in own and tuple(v.shape) == tuple(own[k].shape)}
    missing, _ = model.load_state_dict(fits, strict=False)
    skipped = sorted(set(state) - set(fits))
    if missing or skipped:
        print_log(f'{source}: loaded non-strictly; {len(missing)} model '
                  f'keys keep their initial values, {len(skipped)} '
                  'checkpoint keys were not used', logger='current',
                  level=logging.WARNING)


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None, device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               fuse_conv_bn: bool = False,
               strict: bool = True) -> torch.nn.Module:
    """Build PointHMR from a config and load a checkpoint.

    Args:
        config: Config file or object.
        checkpoint: Checkpoint path; None keeps random weights.
        device: 'cpu', 'cuda', 'cuda:1', ...
        cfg_options: Overrides merged into the config.
        fuse_conv_bn: Fold the batch norms into the convolutions
            (``PointHMR.fuse_conv_bn``): faster inference, but the model
            can no longer be trained and its state dict changes.
        strict: Refuse a checkpoint whose keys or shapes do not fit the
            model (the message lists them). False loads what fits and logs
            the rest, for deliberate partial loads.

    Returns:
        The model in eval mode, with ``model.cfg`` set.

    Raises:
        RuntimeError: ``strict`` and the checkpoint does not fit, naming
            the file and the missing, unexpected and mismatched keys.
    """
    register_all_modules()
    cfg = config if isinstance(config, Config) else Config.fromfile(
        str(config))
    if cfg_options:
        merge_cfg_options(cfg, cfg_options)  # a bad option is named
    # refuse a URL, a missing file or a non-checkpoint before building
    state = None if checkpoint is None else load_checkpoint_file(checkpoint)
    model = MODELS.build(cfg.model)
    if state is not None:
        load_state(model, state, str(checkpoint), strict)
    model.cfg = cfg
    model = model.to(device).eval()
    if fuse_conv_bn:
        model.fuse_conv_bn()
    return model


def crop_box(sample: BaseDataElement) -> np.ndarray:
    """(cx, cy, side) of a sample's square crop in original-image pixels,
    read from its ``crop_matrix`` (whatever scale the pipeline applied)."""
    matrix = np.asarray(sample.crop_matrix, dtype=np.float64)
    crop = float(sample.img_shape[0])
    side = crop / np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    centre = cv2.invertAffineTransform(matrix) @ np.array(
        [crop / 2., crop / 2., 1.])
    return np.array([centre[0], centre[1], side])


def add_full_image_camera(samples: List[BaseDataElement], image_hw,
                          focal: float) -> None:
    """Set ``pred_cam_t_full`` (3,) metres on each sample, in place: the
    translation that puts its pelvis-centred mesh in the full image's
    camera frame (``cam_crop_to_full``), and metainfo ``focal_length``
    (pixels; principal point at the image centre)."""
    if not samples:
        return
    boxes = torch.from_numpy(np.stack([crop_box(s) for s in samples]))
    cameras = torch.stack([s.pred_camera.detach().cpu().double()
                           for s in samples])
    count = len(samples)
    trans = cam_crop_to_full(
        cameras, boxes[:, :2], boxes[:, 2],
        torch.tensor([list(image_hw)] * count, dtype=torch.float64),
        torch.full((count, ), float(focal), dtype=torch.float64))
    for sample, t in zip(samples, trans):
        sample.pred_cam_t_full = t.float()
        sample.set_metainfo(dict(focal_length=float(focal)))


def _load(img: ImageLike) -> tuple:
    """(BGR array, name, path or None) of a path or an array."""
    if isinstance(img, (str, Path)):
        return read_image(img), str(img), Path(img)
    if not (isinstance(img, np.ndarray) and img.ndim == 3 and
            img.shape[2] == 3 and img.dtype == np.uint8):
        raise ValueError('img must be a path or an (H, W, 3) uint8 BGR '
                         'array')
    return img, '<array>', None


def crop_items(image: np.ndarray, boxes: Optional[np.ndarray],
               pipeline: Compose, name: str = '<array>') -> list:
    """Pipeline outputs of one image's crops, one per box.

    Args:
        image: (H, W, 3) BGR uint8.
        boxes: (P, 4) checked xyxy boxes, each padded by ``BBOX_PADDING``
            (a detector's box is tight: the crop gets context); None: the
            whole image, unpadded.
        pipeline: From :func:`build_test_pipeline`.
        name: ``img_path`` of the samples.
    """
    height, width = image.shape[:2]
    padding = BBOX_PADDING
    if boxes is None:
        boxes, padding = np.array([[0., 0., width, height]]), 1.
    items = []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        item = pipeline(dict(
            img=image, img_path=name, sample_idx=i,
            bbox_center=np.array([(x0 + x1) / 2, (y0 + y1) / 2]),
            bbox_size=max(x1 - x0, y1 - y0) * padding))
        item['data_samples'].set_metainfo(dict(bbox=boxes[i]))
        items.append(item)
    return items


def run_batches(model: torch.nn.Module, items: list,
                batch_size: int) -> List[BaseDataElement]:
    """``model.test_step`` over pipeline outputs, ``batch_size`` crops a
    forward pass (crops of several images may share one)."""
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    results = []
    for start in range(0, len(items), batch_size):
        with torch.no_grad():
            results.extend(model.test_step(
                pseudo_collate(items[start:start + batch_size])))
    return results


def inference_mesh(model: torch.nn.Module, img: ImageLike,
                   bboxes: Optional[Sequence] = None,
                   batch_size: int = 16,
                   bbox_format: str = 'xyxy',
                   focal_length: Optional[float] = None,
                   pipeline: Optional[Compose] = None
                   ) -> List[BaseDataElement]:
    """Recover one mesh per box.

    Args:
        model: From :func:`init_model`.
        img: Image path or BGR uint8 array (H, W, 3).
        bboxes: (P, 4) pixel boxes (or (P, 5) with a score), one per
            person; None or empty uses the whole image.
        batch_size: Crops per forward pass.
        bbox_format: ``'xyxy'`` or ``'xywh'`` (see :func:`to_xyxy`).
        focal_length: Focal length in pixels for the full-image camera;
            None: the photo's EXIF, else the image diagonal
            (:func:`~.focal_length.resolve_focal`).
        pipeline: A built :func:`build_test_pipeline` to reuse.

    Returns:
        One data sample per box, with the predictions of
        ``docs/conventions.md`` plus ``pred_cam_t_full`` (3,), and metainfo
        ``crop_matrix`` (original pixels -> crop pixels), ``bbox`` (xyxy),
        ``focal_length``, ``img_shape`` and ``ori_shape``; no GT fields.

    Raises:
        ValueError: A box without area or outside the image, an image
            that does not decode (truncated, corrupt), a bad argument.
        FileNotFoundError: No such image file.
    """
    image, name, path = _load(img)
    height, width = image.shape[:2]
    focal, _ = resolve_focal(height, width, focal_length, path)
    boxes = None if bboxes is None or len(bboxes) == 0 else check_boxes(
        to_xyxy(bboxes, bbox_format), image.shape, name)
    items = crop_items(image, boxes, pipeline or build_test_pipeline(model),
                       name)
    results = run_batches(model, items, batch_size)
    add_full_image_camera(results, (height, width), focal)
    return results
