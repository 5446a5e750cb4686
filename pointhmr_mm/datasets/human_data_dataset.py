"""MMHuman3D's HumanData (``.npz``) read directly: MMHuman3D 0.11 cannot be
imported beside mmcv 2.x."""
import os.path as osp
from typing import List

import numpy as np

from pointhmr_mm.registry import DATASETS
from pointhmr_mm.utils.safe_pickle import load_npz
from .base_mesh_dataset import BaseMeshDataset, check_finite, check_shape
from .conventions import (HUMAN_DATA_NUM_KEYPOINTS, human_data_to_lsp14,
                          normalise_gender)

REQUIRED_KEYS = ('image_path', 'bbox_xywh')


def _unwrap(value):
    """HumanData stores dicts as 0-d object arrays."""
    if isinstance(value, np.ndarray) and value.dtype == object and \
            value.shape == ():
        return value.item()
    return value


@DATASETS.register_module()
class HumanDataDataset(BaseMeshDataset):
    """A HumanData file: images stay on disk until the pipeline loads them.

    Keypoints may be stored compressed (only the labelled joints, with the
    190-long mask telling where they go). They are mapped to LSP-14.

    Args:
        ann_file: The ``.npz``.
        data_prefix: ``dict(img=ROOT)``, the folder image paths are
            relative to.
        bbox_scale: Crop side = ``max(w, h) * bbox_scale``.
        **kwargs: :class:`BaseMeshDataset` arguments.
    """

    def __init__(self, ann_file: str, bbox_scale: float = 1.2, **kwargs):
        self.bbox_scale = bbox_scale
        super().__init__(ann_file=ann_file, **kwargs)

    def _keypoints(self, data: dict, key: str, channels: int,
                   count: int) -> np.ndarray:
        source = osp.basename(self.ann_file)
        if key not in data:
            return np.zeros((count, 14, channels), dtype=np.float32)
        kp = np.asarray(data[key], dtype=np.float32)
        mask = data.get(f'{key}_mask')
        if mask is not None:
            mask = np.asarray(mask).astype(bool)
            check_shape(mask, (HUMAN_DATA_NUM_KEYPOINTS, ), f'{key}_mask',
                        source)
            if kp.shape[1:2] == (int(mask.sum()), ) and \
                    kp.shape[1] != HUMAN_DATA_NUM_KEYPOINTS:
                full = np.zeros((len(kp), HUMAN_DATA_NUM_KEYPOINTS,
                                 kp.shape[2]), dtype=np.float32)
                full[:, mask] = kp  # compressed: only the labelled joints
                kp = full
        check_shape(kp, (count, HUMAN_DATA_NUM_KEYPOINTS, channels), key,
                    source)
        check_finite(kp, key, source)
        if mask is not None:
            kp[:, ~mask, -1] = 0.
        return human_data_to_lsp14(kp)

    def _smpl(self, data: dict, count: int):
        source = osp.basename(self.ann_file)
        smpl = _unwrap(data.get('smpl'))
        if not isinstance(smpl, dict) or 'body_pose' not in smpl:
            return np.zeros((count, 72), np.float32), np.zeros(
                (count, 10), np.float32), np.zeros(count, np.float32)
        body = np.asarray(smpl['body_pose'], np.float32).reshape(count, -1)
        orient = np.asarray(smpl.get('global_orient', np.zeros((count, 3))),
                            np.float32).reshape(count, 3)
        betas = np.asarray(smpl.get('betas', np.zeros((count, 10))),
                           np.float32).reshape(count, -1)[:, :10]
        check_shape(body, (count, 69), 'smpl.body_pose', source)
        for key, arr in (('smpl.body_pose', body),
                         ('smpl.global_orient', orient),
                         ('smpl.betas', betas)):
            check_finite(arr, key, source)
        return np.concatenate([orient, body], 1), betas, np.ones(
            count, np.float32)

    def load_data_list(self) -> List[dict]:
        source = osp.basename(self.ann_file)
        data = load_npz(self.ann_file)
        for key in REQUIRED_KEYS:
            if key not in data:
                raise KeyError(f"{source} has no key '{key}'")
        paths = [str(p) for p in data['image_path']]
        count = len(paths)
        bbox = np.asarray(data['bbox_xywh'], np.float32)
        check_shape(bbox, (count, None), 'bbox_xywh', source)
        check_finite(bbox, 'bbox_xywh', source)
        kp2d = self._keypoints(data, 'keypoints2d', 3, count)
        kp3d = self._keypoints(data, 'keypoints3d', 4, count)
        pose, betas, has_smpl = self._smpl(data, count)
        meta = _unwrap(data.get('meta')) or {}
        genders = meta.get('gender') if isinstance(meta, dict) else None
        root = self.data_prefix.get('img',
                                    self.data_prefix.get('img_path', ''))
        data_list = []
        for i in range(count):
            x, y, w, h = bbox[i, :4]
            data_list.append(dict(
                img_path=osp.join(root, paths[i]),
                bbox_center=np.array([x + w / 2, y + h / 2], np.float32),
                bbox_size=float(max(w, h) * self.bbox_scale),
                keypoints_2d=kp2d[i], keypoints_3d=kp3d[i],
                smpl_pose=pose[i], smpl_betas=betas[i],
                has_smpl=float(has_smpl[i]),
                gender=normalise_gender(genders[i]) if genders is not None
                else 'neutral'))
        return data_list
