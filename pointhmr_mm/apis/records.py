"""Inputs in, person records out: which files a run takes, the output name
of each, and one person's predictions as plain arrays.

Shape shorthand: N full-mesh vertices, J = 14 LSP joints.
"""
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from pointhmr_mm.utils.keypoints import H36M_TO_J14
from pointhmr_mm.visualization.camera import perspective_to_screen
from .boxes import VIDEO_SUFFIXES

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
VIDEO_EXTS = VIDEO_SUFFIXES
PRED_PREFIX = 'pred_'
SMPL_PREFIX = 'pred_smpl_'
# sample field -> record field, copied as they are (record = pred_ name
# without the prefix); heatmaps and the coarse mesh stay in the samples
COPIED = ('vertices', 'keypoints_3d', 'keypoints_3d_h36m', 'camera',
          'cam_t_full')

InputLike = Union[str, Path, np.ndarray]


def _numpy(value) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, 'detach') \
        else np.asarray(value)


def person_record(sample: BaseDataElement) -> dict:
    """One person's predictions as numpy arrays.

    Field names follow the model's: record ``x`` is sample ``pred_x``
    (``keypoints_3d``: the joint tokens' LSP-14 joints; ``keypoints_3d_h36m``:
    the 17 H36M joints regressed from the mesh). Derived fields:
    ``mesh_keypoints_3d`` (J, 3) the LSP-14 joints regressed from the mesh;
    ``vertices_cam`` (N, 3), ``keypoints_3d_cam`` and
    ``mesh_keypoints_3d_cam`` (J, 3) in the full image's camera frame
    (``+ cam_t_full``); ``mesh_keypoints_2d`` (J, 2) image pixels (the
    perspective projection of ``mesh_keypoints_3d_cam``); ``bbox`` (4,)
    xyxy. With fitted SMPL: ``smpl_global_orient``, ``smpl_body_pose``,
    ``smpl_betas``, ``smpl_mpve_fit`` as predicted and ``smpl_transl``
    made a camera-frame translation, so that the SMPL mesh of the
    parameters is ``vertices_cam``. See ``docs/inference.md``.
    """
    record = {key: _numpy(getattr(sample, PRED_PREFIX + key))
              for key in COPIED}
    cam_t = record['cam_t_full']
    record['mesh_keypoints_3d'] = record['keypoints_3d_h36m'][
        list(H36M_TO_J14)]
    for key in ('vertices', 'keypoints_3d', 'mesh_keypoints_3d'):
        record[f'{key}_cam'] = record[key] + cam_t
    height, width = sample.ori_shape[:2]
    focal = float(sample.focal_length)
    record['mesh_keypoints_2d'] = perspective_to_screen(
        record['mesh_keypoints_3d_cam'], (focal, focal),
        (width / 2., height / 2.))[:, :2]
    record['bbox'] = np.asarray(sample.bbox, dtype=np.float64)
    for key in sample.keys():
        if key.startswith(SMPL_PREFIX):
            record[key[len(PRED_PREFIX):]] = _numpy(getattr(sample, key))
    if 'smpl_transl' in record:
        # the fit's own-frame offset plus the full-image translation
        record['smpl_transl'] = record['smpl_transl'] + cam_t
    return record


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


def output_names(paths: Sequence[Path]) -> Dict[Path, Tuple[str, str]]:
    """Output name and box-file key per input file.

    Names keep the path relative to the inputs' common folder
    (``cam1/000001`` and ``cam2/000001`` for two camera folders), so that
    outputs of different inputs never overwrite each other; inputs that
    share a stem in one folder (``a.jpg``, ``a.png``) get their extension
    in it (``a_jpg``, ``a_png``).

    Returns:
        dict: path -> (output name without suffix, relative path with
        suffix, POSIX).
    """
    if not paths:
        return {}
    resolved = {p: p.resolve() for p in paths}
    root = Path(os.path.commonpath([str(r.parent)
                                    for r in resolved.values()]))
    rel = {p: r.relative_to(root) for p, r in resolved.items()}
    counts = Counter(r.with_suffix('') for r in rel.values())
    out = {}
    for p, r in rel.items():
        stem = r.with_suffix('')
        if counts[stem] > 1:
            stem = stem.with_name(f'{stem.name}_'
                                  f'{r.suffix.lstrip(".").lower()}')
        out[p] = (stem.as_posix(), r.as_posix())
    return out
