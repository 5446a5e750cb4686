"""MMHuman3D's HumanData files (``.npz``), read directly: MMHuman3D 0.11
cannot be imported beside mmcv 2.x.

Shape shorthand: N samples, K = 190 human_data keypoints.
"""
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np

from pointhmr_mm.registry import DATASETS
from pointhmr_mm.utils.constants import NUM_BETAS, NUM_POSE
from pointhmr_mm.utils.safe_pickle import load_npz
from .base_mesh_dataset import BaseMeshDataset, check_finite, check_shape
from .conventions import (HUMAN_DATA_NUM_KEYPOINTS, file_convention,
                          human_data_to_lsp14)

REQUIRED_KEYS = ('image_path', 'bbox_xywh')
# HumanData's flag for keypoint arrays that hold only the masked-in joints.
COMPRESSED_FLAG = '__keypoints_compressed__'
NUM_BODY_POSE = NUM_POSE - 3  # without the global orientation


def _unwrap(value):
    """HumanData stores dicts (``smpl``, ``meta``) as 0-d object arrays."""
    if isinstance(value, np.ndarray) and value.shape == ():
        return value.item()
    return value


def expand_keypoints(keypoints: np.ndarray, mask: Optional[np.ndarray],
                     compressed: Optional[bool], key: str,
                     source: str) -> np.ndarray:
    """Full (N, 190, C) keypoints with unmasked joints at confidence 0.

    Args:
        keypoints: (N, 190, C), or (N, M, C) when compressed: only the M
            joints whose mask is set, in convention order.
        mask: (190,) 0/1, or None (every joint counts).
        compressed: The file's ``__keypoints_compressed__`` flag; None
            (older files without it) decides from the shape.
        key: Array name, for errors.
        source: File name, for errors.
    """
    if keypoints.ndim != 3:
        raise ValueError(f"{source}: key '{key}' has shape "
                         f'{keypoints.shape}, expected (N, '
                         f'{HUMAN_DATA_NUM_KEYPOINTS}, C)')
    if mask is None:
        check_shape(keypoints, (None, HUMAN_DATA_NUM_KEYPOINTS, None), key,
                    source)
        return keypoints.copy()
    mask = np.asarray(mask).reshape(-1) != 0
    check_shape(mask, (HUMAN_DATA_NUM_KEYPOINTS, ), f'{key}_mask', source)
    if compressed is None:
        compressed = keypoints.shape[1] != HUMAN_DATA_NUM_KEYPOINTS
    if compressed:
        if keypoints.shape[1] != mask.sum():
            raise ValueError(
                f"{source}: compressed key '{key}' holds "
                f'{keypoints.shape[1]} joints but {key}_mask sets '
                f'{int(mask.sum())}')
        full = np.zeros((len(keypoints), HUMAN_DATA_NUM_KEYPOINTS,
                         keypoints.shape[2]), dtype=np.float32)
        full[:, mask] = keypoints
        return full
    check_shape(keypoints, (None, HUMAN_DATA_NUM_KEYPOINTS, None), key,
                source)
    full = keypoints.copy()
    full[:, ~mask, -1] = 0.
    return full


@DATASETS.register_module()
class HumanDataDataset(BaseMeshDataset):
    """One HumanData ``.npz``; images stay on disk until the pipeline.

    Keypoints (compressed or not) are mapped from the 190-joint human_data
    convention to LSP-14 by name, as MMHuman3D's ``convert_kps`` does: a
    joint the sample does not label (occluded) keeps confidence 0. Which
    joint an LSP joint is read from is decided once per file: an
    approximate joint (e.g. ``right_wrist_openpose`` for ``right_wrist``)
    only stands in when the file's convention (its ``keypoints*_mask``)
    lacks the LSP joint entirely (``conventions.lsp14_sources``). Without
    an ``smpl`` dict, ``has_smpl`` is 0 and pose/betas are zeros; a
    per-sample ``has_smpl`` array, when the file has one, decides per
    sample, as in MMHuman3D.

    Args:
        ann_file: The ``.npz``.
        data_prefix: ``dict(img=ROOT)``: the folder ``image_path`` entries
            are relative to.
        bbox_scale: The square crop's side is ``max(w, h) * bbox_scale`` of
            the stored ``bbox_xywh``. Default 1: MMHuman3D's converters
            already enlarge the boxes (x1.2 in ``pw3d.py`` and ``lsp.py``)
            and its dataset crops ``max(w, h)``; set 1.2 for files with
            tight boxes.
        **kwargs: :class:`BaseMeshDataset` arguments (``dataset_name``,
            ``eval_protocol``, ``on_error``, ``gender_codes`` for integer
            ``meta.gender`` codes, ``pipeline``, ...).
    """

    def __init__(self, ann_file: str, data_prefix: Optional[dict] = None,
                 bbox_scale: float = 1., **kwargs):
        if bbox_scale <= 0:
            raise ValueError(f'bbox_scale must be positive, got {bbox_scale}')
        self.bbox_scale = bbox_scale
        super().__init__(ann_file=ann_file,
                         data_prefix=data_prefix or dict(img=''), **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read and check every label of the file."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{self.ann_file}: no such HumanData '
                                    'file')
        data = load_npz(self.ann_file)
        source = osp.basename(self.ann_file)
        missing = [k for k in REQUIRED_KEYS if k not in data]
        if missing:
            raise KeyError(f"{self.ann_file} has no key '{missing[0]}' "
                           f'(HumanData needs {list(REQUIRED_KEYS)}; it has '
                           f'{sorted(data)})')
        paths = [str(p) for p in np.asarray(data['image_path']).reshape(-1)]
        count = len(paths)
        centers, sizes = self._boxes(data['bbox_xywh'], count, source)
        kp2d = self._keypoints(data, 'keypoints2d', 3, count, source)
        kp3d = self._keypoints(data, 'keypoints3d', 4, count, source)
        pose, betas, has_smpl = self._smpl(data, count, source)
        genders = self._genders(data, count, source)
        if 'has_smpl' in data and has_smpl.any():  # per-sample flags
            has_smpl = has_smpl * self._flags(data['has_smpl'], count,
                                              source)
        root = self.data_prefix.get('img', self.data_prefix.get('img_path',
                                                                ''))
        # exact, over the whole file (see supervision())
        self._supervision = dict(
            vertices=bool(has_smpl.any()), heatmap=bool(has_smpl.any()),
            joints_3d=bool((kp3d[..., -1] > 0).any()),
            joints_2d=bool((kp2d[..., -1] > 0).any()))
        return [
            dict(img_path=osp.join(root, paths[i]),
                 bbox_center=centers[i], bbox_size=float(sizes[i]),
                 keypoints_2d=kp2d[i], keypoints_3d=kp3d[i],
                 smpl_pose=pose[i], smpl_betas=betas[i],
                 has_smpl=float(has_smpl[i]), gender=genders[i])
            for i in range(count)
        ]

    def supervision(self) -> Dict[str, bool]:
        """As ``BaseMeshDataset.supervision``, exactly: from every sample's
        ``has_smpl`` and keypoint confidences (a file without ``smpl``
        supervises no vertices or heatmaps, one without ``keypoints3d`` no
        3D joints)."""
        if not hasattr(self, '_supervision'):
            return super().supervision()
        return dict(self._supervision)

    def _boxes(self, bbox, count: int,
               source: str) -> Tuple[np.ndarray, np.ndarray]:
        """(N, 2) centres and (N,) square sides from (N, 4|5) xywh[conf]."""
        bbox = np.asarray(bbox, dtype=np.float32)
        check_shape(bbox, (count, None), 'bbox_xywh', source)
        if bbox.shape[1] not in (4, 5):
            raise ValueError(f"{source}: key 'bbox_xywh' has shape "
                             f'{bbox.shape}, expected (N, 4) or (N, 5)')
        check_finite(bbox, 'bbox_xywh', source)
        xy, wh = bbox[:, :2], bbox[:, 2:4]
        empty = np.flatnonzero(wh.max(1) <= 0)
        if empty.size:
            raise ValueError(f"{source}: key 'bbox_xywh' has an empty box "
                             f'at sample {int(empty[0])} ({empty.size} '
                             'samples in all)')
        return xy + wh / 2, wh.max(1) * self.bbox_scale

    def _keypoints(self, data: Dict, key: str, channels: int, count: int,
                   source: str) -> np.ndarray:
        """(N, 14, channels) LSP-14 keypoints; zeros when ``key`` is absent.
        """
        if key not in data:
            return np.zeros((count, 14, channels), dtype=np.float32)
        flag = data.get(COMPRESSED_FLAG)
        compressed = None if flag is None else bool(_unwrap(flag))
        mask = data.get(f'{key}_mask')
        full = expand_keypoints(
            np.asarray(data[key], dtype=np.float32), mask, compressed, key,
            source)
        check_shape(full, (count, HUMAN_DATA_NUM_KEYPOINTS, channels), key,
                    source)
        check_finite(full, key, source)
        return human_data_to_lsp14(full, file_convention(mask))

    def _smpl(self, data: Dict, count: int, source: str):
        """(N, 72) pose, (N, 10) betas and whether the file has SMPL."""
        smpl = _unwrap(data.get('smpl'))
        if smpl is None or (isinstance(smpl, dict) and not smpl):
            return (np.zeros((count, NUM_POSE), np.float32),
                    np.zeros((count, NUM_BETAS), np.float32),
                    np.zeros(count, np.float32))
        if not isinstance(smpl, dict):
            raise ValueError(f"{source}: key 'smpl' holds a "
                             f'{type(smpl).__name__}, expected a dict')
        for key in ('body_pose', 'global_orient', 'betas'):
            if key not in smpl:
                raise KeyError(f"{source}: 'smpl' has no key '{key}' (it has"
                               f' {sorted(smpl)})')
        arrays = {}
        for key, size in (('body_pose', NUM_BODY_POSE), ('global_orient', 3),
                          ('betas', None)):
            arr = np.asarray(smpl[key], dtype=np.float32)
            if arr.ndim < 1 or len(arr) != count:
                raise ValueError(f"{source}: key 'smpl.{key}' has shape "
                                 f'{arr.shape}, expected {count} samples')
            arr = arr.reshape(count, -1)
            check_shape(arr, (count, size), f'smpl.{key}', source)
            check_finite(arr, f'smpl.{key}', source)
            arrays[key] = arr
        betas = arrays['betas']
        if betas.shape[1] < NUM_BETAS:  # fewer components: the rest are 0
            betas = np.pad(betas, ((0, 0), (0, NUM_BETAS - betas.shape[1])))
        pose = np.concatenate([arrays['global_orient'], arrays['body_pose']],
                              axis=1)
        return pose, betas[:, :NUM_BETAS], np.ones(count, np.float32)

    @staticmethod
    def _flags(flags, count: int, source: str) -> np.ndarray:
        """(N,) 0/1 float32 from a per-sample ``has_smpl`` array."""
        flags = np.asarray(flags)
        if flags.shape not in ((count, ), (count, 1)):
            raise ValueError(f"{source}: key 'has_smpl' has shape "
                             f'{flags.shape}, expected ({count},)')
        try:
            return (flags.reshape(count).astype(np.float32) > 0).astype(
                np.float32)
        except ValueError:
            raise ValueError(f"{source}: key 'has_smpl' holds "
                             f'{flags.dtype} values, expected 0/1') from None

    def _genders(self, data: Dict, count: int, source: str) -> List[str]:
        meta = _unwrap(data.get('meta'))
        genders = meta.get('gender') if isinstance(meta, dict) else None
        if genders is None:
            return ['neutral'] * count
        genders = np.asarray(genders).reshape(-1)
        if len(genders) == 1:  # one gender for the whole file
            genders = np.repeat(genders, count)
        if len(genders) != count:
            raise ValueError(f"{source}: 'meta.gender' has {len(genders)} "
                             f'entries for {count} samples')
        return [self.gender(g, f"{source}: 'meta.gender' sample {i}")
                for i, g in enumerate(genders)]
