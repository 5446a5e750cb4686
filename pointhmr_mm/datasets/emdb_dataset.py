"""EMDB (Kaufmann et al., ICCV 2023) as its authors lay it out.

``data_root/P*/<sequence>/images/%05d.jpg`` (frame numbers from 0) beside
``P*/<sequence>/<P>_<sequence>_data.pkl``, a plain pickle (eth-ait/emdb
``dataset.md``) with ``gender``, ``emdb1``, ``emdb2``, ``good_frames_mask``
(N,), ``camera`` {``intrinsics`` (3, 3), ``extrinsics`` (N, 4, 4) world to
camera, ``width``, ``height``}, ``smpl`` {``poses_root`` (N, 3) world
frame, ``poses_body`` (N, 69), ``trans`` (N, 3), ``betas`` (10,)},
``kp2d`` (N, 24, 2) px and ``bboxes`` {``bboxes`` (N, 4) xyxy px,
``invalid_idxs`` (M,)}.

Shape shorthand: N frames of a sequence, S samples of the dataset.
"""
import glob
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from pointhmr_mm.registry import DATASETS
from pointhmr_mm.utils.safe_pickle import load_pickle
from .array_mesh_dataset import ArrayMeshDataset, column_sample
from .base_mesh_dataset import check_finite, check_shape

SUBSETS = ('emdb1', 'emdb2', None)
GENDERS = ('neutral', 'male', 'female')
NUM_JOINTS_2D = 24
NUM_BODY_POSE = 69
NUM_BETAS = 10
# Crop side = BOX_EXPAND * the longer side of the person's box, the SPIN
# convention EMDB converters (CameraHMR's, TokenHMR's) follow.
BOX_EXPAND = 1.2
REQUIRED = ('gender', 'emdb1', 'emdb2', 'good_frames_mask', 'camera', 'smpl',
            'kp2d', 'bboxes')


def _get(data: dict, key: str, where: str):
    """``data[key]``, or a KeyError naming the file and the key."""
    if not isinstance(data, dict) or key not in data:
        have = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise KeyError(f"{where}: no key '{key}' (has {have})")
    return data[key]


def joint_boxes(kp2d: np.ndarray, width: float,
                height: float) -> np.ndarray:
    """(N, 4) xyxy boxes around the projected joints inside the image.

    Frames whose joints all lie outside the image keep the joints' full
    extent, so every frame gets a box.

    Args:
        kp2d: (N, J, 2) px.
        width: Image width px.
        height: Image height px.
    """
    inside = ((kp2d[..., 0] >= 0) & (kp2d[..., 0] < width) &
              (kp2d[..., 1] >= 0) & (kp2d[..., 1] < height))
    inside[~inside.any(1)] = True
    lo = np.where(inside[..., None], kp2d, np.inf).min(1)
    hi = np.where(inside[..., None], kp2d, -np.inf).max(1)
    return np.concatenate([lo, hi], axis=1)


@DATASETS.register_module()
class EMDBDataset(ArrayMeshDataset):
    """EMDB sequences, one sample per good frame.

    Sequences: every ``P*/*/*_data.pkl`` under ``data_root`` whose flag
    ``subset`` is set (the official EMDB-1 selection is the ``emdb1`` flag);
    frames: the file's ``good_frames_mask``, as the authors' evaluation
    scores them. Crop box: ``bboxes.bboxes`` (xyxy), a square of side
    1.2 x its longer side around its centre. A good frame whose box is
    invalid (listed in ``bboxes.invalid_idxs`` or empty) is still a
    sample: its box is the extent of the 24 projected SMPL joints
    (``kp2d``) inside the image, expanded the same way; ``box_from_joints``
    says which frames those are.

    Labels: the SMPL pose with its root turned into the camera
    (``R_cam @ R_root``, ``R_cam`` = the frame's extrinsic rotation), the
    sequence's betas and gender, ``has_smpl`` 1. The GT mesh and its 24
    SMPL joints are built by the model's body models from these (the
    'emdb' protocol is pelvis-aligned, so the translation is not needed).
    ``kp2d`` are SMPL's kinematic joints, not LSP-14 joints, so the 2D and
    3D keypoints carry confidence 0.

    Args:
        data_root: The folder holding ``P0`` ... ``P9``.
        subset: 'emdb1', 'emdb2' (sequences with that flag) or None (all).
        eval_protocol: Default 'emdb' (the official EMDB-1 metric).
        **kwargs: :class:`BaseMeshDataset` arguments (``pipeline``,
            ``test_mode``, ``dataset_name``, ...).
    """
    DOWNLOAD_HINT = (
        'EMDB: apply at https://emdb.ait.ethz.ch (research licence, '
        'approval by e-mail); unzip so that data/emdb/P0 ... P9/<sequence>/'
        '{images/, <P>_<sequence>_data.pkl} exist. The SMPL model files '
        '(smpl.is.tue.mpg.de, registration) build the GT meshes.')

    def __init__(self, data_root: str = 'data/emdb',
                 subset: Optional[str] = 'emdb1',
                 eval_protocol: Optional[str] = 'emdb',
                 dataset_name: str = 'emdb', **kwargs):
        if subset not in SUBSETS:
            raise ValueError(f'subset must be one of {SUBSETS}, got '
                             f'{subset!r}')
        self.subset = subset
        self.sequences: List[str] = []
        super().__init__(data_root=data_root, eval_protocol=eval_protocol,
                         dataset_name=dataset_name, **kwargs)

    @property
    def source(self) -> str:
        return str(self.data_root)

    def load_columns(self) -> Dict[str, np.ndarray]:
        """Read every sequence file of the subset."""
        files = sorted(glob.glob(osp.join(self.data_root, 'P*', '*',
                                          '*_data.pkl')))
        if not files:
            raise FileNotFoundError(
                f'{self.data_root}: no P*/<sequence>/*_data.pkl files. '
                f'{self.DOWNLOAD_HINT}')
        parts, sequences = [], []
        for path in files:
            data = load_pickle(path)
            if self.subset and not bool(_get(data, self.subset, path)):
                continue
            columns = self._sequence(data, path)
            columns['sequence'] = np.full(len(columns['frame']),
                                          len(sequences), np.int16)
            sequences.append(osp.dirname(path))
            parts.append(columns)
        if not parts:
            raise ValueError(f'{self.data_root}: none of the {len(files)} '
                             f"sequence files has '{self.subset}' set")
        self.sequences = sequences
        return {key: np.concatenate([p[key] for p in parts])
                for key in parts[0]}

    def _sequence(self, data: dict, path: str) -> Dict[str, np.ndarray]:
        """Columns of the good frames of one sequence file."""
        for key in REQUIRED:
            _get(data, key, path)
        good = np.asarray(data['good_frames_mask']).astype(bool)
        count = len(good)
        check_shape(good, (count, ), 'good_frames_mask', path)
        smpl, camera = data['smpl'], data['camera']
        root = self._array(smpl, 'poses_root', (count, 3), path, 'smpl.')
        body = self._array(smpl, 'poses_body', (count, NUM_BODY_POSE), path,
                           'smpl.')
        betas = self._array(smpl, 'betas', (None, ), path, 'smpl.')
        if len(betas) < NUM_BETAS:
            raise ValueError(f"{path}: key 'smpl.betas' has shape "
                             f'{betas.shape}, expected ({NUM_BETAS},)')
        extrinsics = self._array(camera, 'extrinsics', (count, 4, 4), path,
                                 'camera.')
        kp2d = self._array(data, 'kp2d', (count, NUM_JOINTS_2D, 2), path)
        frames = np.flatnonzero(good)
        for key, value in (('smpl.poses_root', root), ('smpl.poses_body',
                                                       body),
                           ('camera.extrinsics', extrinsics),
                           ('kp2d', kp2d)):
            # bad frames may hold anything; a message names the frame
            check_finite(np.where(good.reshape(-1, *[1] * (value.ndim - 1)),
                                  value, 0.), key, path)
        centers, sizes, from_joints = self._boxes(data, kp2d, count, path)
        # the root orientation in the camera: R_cam @ R_root (world)
        cam_root = (Rotation.from_matrix(extrinsics[frames, :3, :3]) *
                    Rotation.from_rotvec(root[frames])).as_rotvec() \
            if frames.size else np.zeros((0, 3))
        pose = np.concatenate([cam_root, body[frames]], axis=1)
        gender = self.gender(_get(data, 'gender', path), f"{path}: 'gender'")
        return dict(
            frame=frames.astype(np.int32),
            center=centers[frames].astype(np.float32),
            size=sizes[frames].astype(np.float32),
            box_from_joints=from_joints[frames],
            pose=pose.astype(np.float32),
            betas=np.tile(betas[:NUM_BETAS].astype(np.float32),
                          (len(frames), 1)),
            gender=np.full(len(frames), GENDERS.index(gender), np.int8))

    @staticmethod
    def _array(data: dict, key: str, shape, path: str,
               prefix: str = '') -> np.ndarray:
        where = f"{path}: '{prefix[:-1]}'" if prefix else path
        value = np.asarray(_get(data, key, where), dtype=np.float64)
        check_shape(value, shape, prefix + key, path)
        return value

    def _boxes(self, data: dict, kp2d: np.ndarray, count: int,
               path: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N, 2) centres, (N,) square sides and (N,) whether the box came
        from the joints (an invalid stored box)."""
        boxes = data['bboxes']
        xyxy = self._array(boxes, 'bboxes', (count, 4), path, 'bboxes.')
        invalid = np.zeros(count, bool)
        idxs = np.asarray(_get(boxes, 'invalid_idxs', f'{path}: bboxes'))
        idxs = idxs.astype(np.int64).reshape(-1)
        if idxs.size and (idxs.min() < 0 or idxs.max() >= count):
            raise ValueError(f"{path}: key 'bboxes.invalid_idxs' holds frame "
                             f'{int(idxs.max())}, outside 0..{count - 1}')
        invalid[idxs] = True
        wh = xyxy[:, 2:] - xyxy[:, :2]
        invalid |= ~np.isfinite(xyxy).all(1) | (wh.min(1) <= 0)
        if invalid.any():
            camera = data['camera']
            size = (float(_get(camera, 'width', f'{path}: camera')),
                    float(_get(camera, 'height', f'{path}: camera')))
            xyxy = xyxy.copy()
            xyxy[invalid] = joint_boxes(kp2d[invalid], *size)
        centers = (xyxy[:, :2] + xyxy[:, 2:]) / 2.
        sides = (xyxy[:, 2:] - xyxy[:, :2]).max(1) * BOX_EXPAND
        return centers, sides, invalid

    def sample_labels(self, idx: int) -> dict:
        """Image path, box, camera-frame SMPL pose, betas and gender of
        sample ``idx``."""
        col = self.columns
        folder = self.sequences[int(col['sequence'][idx])]
        frame = int(col['frame'][idx])
        return dict(
            column_sample(col, idx),
            img_path=osp.join(folder, 'images', f'{frame:05d}.jpg'),
            box_from_joints=bool(col['box_from_joints'][idx]),
            has_smpl=1., gender=GENDERS[int(col['gender'][idx])],
            sequence=osp.basename(folder), frame=frame)
