"""3DPW from its original release: ``sequenceFiles/{train,validation,test}/
*.pkl`` and ``imageFiles/<sequence>/image_%05d.jpg``.

Each pkl is one sequence, pickled by Python 2 (so read as latin1), with per
person (P) and image frame (N): ``poses`` (N, 72) SMPL axis-angle with the
root in the **world** frame, ``betas`` (10,) or (300,), ``genders`` 'm' /
'f', ``poses2d`` (N, 3, 18) OpenPose COCO-18 detections **channel-major**
(x, y, confidence; all zeros where fewer than 6 joints were found),
``jointPositions`` (N, 72) the 24 SMPL joints in the world (metres),
``campose_valid`` (N,) and per sequence ``cam_poses`` (N, 4, 4) world ->
camera and ``cam_intrinsics`` (3, 3).

Samples are (person, frame) pairs with ``campose_valid`` set, as SPIN's
``pw3d_extract``, MMHuman3D's ``Pw3dConverter`` and Pose2Mesh's
``3dpw2coco.py`` take them, minus frames the crop box cannot be made for
(see ``box``). The root is rotated into the camera (``R_root <- R_cam
R_root``); the translation is not kept (nothing here needs it).

Shape shorthand: M samples of the split, N frames of a sequence.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from pointhmr_mm.registry import DATASETS
from pointhmr_mm.utils.safe_pickle import load_pickle
from .array_mesh_dataset import column_sample
from .base_mesh_dataset import BaseMeshDataset, check_finite, check_shape

SPLITS = ('train', 'validation', 'test')
BOXES = ('spin', 'pose2mesh')
PROTOCOLS = ('3dpw', '3dpw_gendered', None)
REQUIRED_KEYS = ('sequence', 'genders', 'betas', 'poses', 'poses2d',
                 'cam_poses', 'campose_valid', 'cam_intrinsics')
NUM_POSE, NUM_BETAS, NUM_COCO18, NUM_SMPL_JOINTS = 72, 10, 18, 24
# Both producers enlarge the keypoints' extent by 1.2: SPIN to a square of
# side 1.2 max(w, h); Pose2Mesh each of w and h, and METRO crops a square
# of 1.2 max(w, h) of that box again (1.44 x the joints' extent).
BOX_FACTOR = 1.2
# LSP-14 from OpenPose COCO-18 (Nose, Neck, RSho, RElb, RWri, LSho, LElb,
# LWri, RHip, RKnee, RAnk, LHip, LKnee, LAnk, REye, LEye, REar, LEar). As
# MMHuman3D's approximate mapping does (``conventions.LSP14_FROM_HUMAN_DATA``)
# the OpenPose hips and neck stand in for LSP's, which COCO-18 lacks; LSP's
# head top has no counterpart (-1: confidence 0).
COCO18_TO_LSP14 = (10, 9, 8, 11, 12, 13, 4, 3, 2, 5, 6, 7, 1, -1)
GENDERS = ('male', 'female')


def read_sequence(path: str, box: str) -> Dict[str, np.ndarray]:
    """One sequence file's samples as compact arrays.

    Args:
        path: The ``.pkl``.
        box: 'spin' or 'pose2mesh' (see :class:`Pw3dDataset`).

    Returns:
        dict: ``name`` (the sequence), and per sample ``person``, ``frame``
        (int32), ``gender`` (uint8 index into ``GENDERS``), ``pose``
        (M, 72), ``betas`` (M, 10), ``keypoints_2d`` (M, 14, 3),
        ``center`` (M, 2), ``size`` (M,) float32.
    """
    data = load_pickle(path)
    source = osp.basename(path)
    if not isinstance(data, dict):
        raise ValueError(f'{path}: holds a {type(data).__name__}, not a 3DPW '
                         'sequence dict')
    keys = REQUIRED_KEYS + (('jointPositions', ) if box == 'pose2mesh' else ())
    for key in keys:
        if key not in data:
            raise KeyError(f"{path} has no key '{key}' (a 3DPW sequence file "
                           f'has {list(REQUIRED_KEYS)} and jointPositions)')
    name = str(np.asarray(data['sequence']).item() if isinstance(
        data['sequence'], np.ndarray) else data['sequence'])
    cam = np.asarray(data['cam_poses'], dtype=np.float64)
    check_shape(cam, (None, 4, 4), 'cam_poses', source)
    check_finite(cam, 'cam_poses', source)
    intrinsics = np.asarray(data['cam_intrinsics'], dtype=np.float64)
    check_shape(intrinsics, (3, 3), 'cam_intrinsics', source)
    size_hw = _image_size(path, name) if box == 'pose2mesh' else None
    parts = [_read_person(data, p, cam, intrinsics, box, size_hw, source)
             for p in range(_num_people(data, source))]
    out = {k: np.concatenate([part[k] for part in parts])
           for k in parts[0]}
    out['name'] = name
    return out


def _num_people(data: dict, source: str) -> int:
    count = len(data['poses'])
    for key in ('genders', 'betas', 'poses2d', 'campose_valid') + (
            ('trans', ) if 'trans' in data else ()):
        if len(data[key]) != count:
            raise ValueError(f"{source}: key '{key}' lists {len(data[key])} "
                             f"people but 'poses' lists {count}")
    if count == 0:
        raise ValueError(f"{source}: key 'poses' lists no person")
    return count


def _image_size(path: str, name: str) -> Tuple[int, int]:
    """(height, width) of the sequence's first image, as Pose2Mesh reads
    it (from the header only)."""
    from PIL import Image
    # <data_root>/sequenceFiles/<split>/<sequence>.pkl
    root = osp.dirname(osp.dirname(osp.dirname(path)))
    image = osp.join(root, 'imageFiles', name, 'image_00000.jpg')
    if not osp.isfile(image):
        raise FileNotFoundError(
            f"{image}: no such image; box='pose2mesh' keeps the joints "
            f'inside the image, whose size it reads there (for {path})')
    with Image.open(image) as img:
        width, height = img.size
    return height, width


def _person_array(data, key, person, shape, source) -> np.ndarray:
    where = f'{source} person {person}'
    value = np.asarray(data[key][person], dtype=np.float64)
    check_shape(value, shape, key, where)
    check_finite(value, key, where)
    return value


def _read_person(data: dict, person: int, cam: np.ndarray,
                 intrinsics: np.ndarray, box: str,
                 size_hw: Optional[Tuple[int, int]], source: str) -> dict:
    """Samples of one person: valid camera frames with a box."""
    frames = len(cam)
    where = f'{source} person {person}'
    poses = _person_array(data, 'poses', person, (frames, NUM_POSE), source)
    betas = np.asarray(data['betas'][person], dtype=np.float64).reshape(-1)
    if betas.size < NUM_BETAS:
        raise ValueError(f"{where}: key 'betas' has {betas.size} values, "
                         f'expected at least {NUM_BETAS}')
    poses2d = _person_array(data, 'poses2d', person,
                            (frames, 3, NUM_COCO18), source)
    valid = np.asarray(data['campose_valid'][person]).reshape(-1)
    if valid.shape != (frames, ):
        raise ValueError(f"{where}: key 'campose_valid' has {valid.size} "
                         f"frames, 'cam_poses' has {frames}")
    gender = GENDERS.index(_gender(data['genders'][person], where))
    kp2d = poses2d.transpose(0, 2, 1)  # (N, 18, 3): channel-major -> rows
    if box == 'spin':
        center, side, has_box = _spin_boxes(kp2d)
    else:
        joints = _person_array(data, 'jointPositions', person,
                               (frames, NUM_SMPL_JOINTS * 3), source)
        center, side, has_box = _pose2mesh_boxes(
            joints.reshape(frames, NUM_SMPL_JOINTS, 3), cam, intrinsics,
            size_hw)
    keep = np.flatnonzero((valid != 0) & has_box)
    pose = poses[keep].copy()
    # the root into the camera frame: R_root <- R_cam R_root
    pose[:, :3] = (Rotation.from_matrix(cam[keep, :3, :3]) *
                   Rotation.from_rotvec(pose[:, :3])).as_rotvec()
    lsp = kp2d[keep][:, list(COCO18_TO_LSP14)]
    lsp[:, -1] = 0.  # head top: no COCO-18 joint
    return dict(person=np.full(len(keep), person, np.int32),
                frame=keep.astype(np.int32),
                gender=np.full(len(keep), gender, np.uint8),
                pose=pose.astype(np.float32),
                betas=np.tile(betas[:NUM_BETAS], (len(keep), 1)).astype(
                    np.float32),
                keypoints_2d=lsp.astype(np.float32),
                center=center[keep].astype(np.float32),
                size=side[keep].astype(np.float32))


def _gender(value, where: str) -> str:
    text = str(value).strip().lower()
    for gender in GENDERS:
        if text in (gender, gender[0]):
            return gender
    raise ValueError(f"{where}: key 'genders' holds {value!r}, expected "
                     "'m' or 'f'")


def _spin_boxes(kp2d: np.ndarray):
    """SPIN's box: the detected joints' (conf > 0) extent, a square of
    side 1.2 max(w, h) about its centre; frames without any detected joint
    have none."""
    seen = kp2d[..., 2] > 0
    has_box = seen.any(1)
    x = np.where(seen, kp2d[..., 0], np.nan)
    y = np.where(seen, kp2d[..., 1], np.nan)
    return _extent_box(x, y, has_box)


def _pose2mesh_boxes(joints: np.ndarray, cam: np.ndarray,
                     intrinsics: np.ndarray, size_hw: Tuple[int, int]):
    """Pose2Mesh's box (``3dpw2coco.py``): the 24 SMPL joints projected
    with K, those inside the image, w and h each x1.2; METRO's square crop
    of 1.2 max(w, h) of that box."""
    cam_joints = (np.einsum('nij,nkj->nki', cam[:, :3, :3], joints) +
                  cam[:, None, :3, 3])
    z = cam_joints[..., 2]
    with np.errstate(divide='ignore', invalid='ignore'):
        u = cam_joints[..., 0] / z * intrinsics[0, 0] + intrinsics[0, 2]
        v = cam_joints[..., 1] / z * intrinsics[1, 1] + intrinsics[1, 2]
    height, width = size_hw
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    has_box = inside.any(1)
    x, y = np.where(inside, u, np.nan), np.where(inside, v, np.nan)
    center, side, has_box = _extent_box(x, y, has_box)
    return center, side * BOX_FACTOR, has_box


def _extent_box(x: np.ndarray, y: np.ndarray, has_box: np.ndarray):
    """(N, 2) centres and (N,) square sides 1.2 max(w, h) from (N, J)
    coordinates (NaN: not a box point). A frame whose points have no
    extent (a single point) gets no box: nothing could be cropped."""
    x = np.where(has_box[:, None], x, 0.)
    y = np.where(has_box[:, None], y, 0.)
    x0, x1 = np.nanmin(x, 1), np.nanmax(x, 1)
    y0, y1 = np.nanmin(y, 1), np.nanmax(y, 1)
    center = np.stack([(x0 + x1) / 2, (y0 + y1) / 2], 1)
    side = BOX_FACTOR * np.maximum(x1 - x0, y1 - y0)
    return center, side, has_box & (side > 0)


class _SampleTable:
    """The split's samples as a few arrays, read as per-sample dicts.

    Stands in for mmengine's ``data_list`` (``serialize_data=False``):
    DataLoader workers get a handful of numpy arrays (about 1 KB a sample)
    instead of a pickled dict per sample.
    """

    def __init__(self, arrays: Dict[str, np.ndarray], names: List[str],
                 files: List[str], image_root: str):
        self.arrays, self.names = arrays, names
        self.files, self.image_root = files, image_root

    def __len__(self) -> int:
        return len(self.arrays['frame'])

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return _SampleTable({k: v[idx] for k, v in self.arrays.items()},
                                self.names, self.files, self.image_root)
        a = self.arrays
        seq, frame = int(a['sequence'][idx]), int(a['frame'][idx])
        return dict(
            column_sample(a, idx),
            img_path=osp.join(self.image_root, self.names[seq],
                              f'image_{frame:05d}.jpg'),
            has_smpl=1.,
            gender=GENDERS[int(a['gender'][idx])],
            sequence_file=self.files[seq],
            person=int(a['person'][idx]), frame=frame)


@DATASETS.register_module()
class Pw3dDataset(BaseMeshDataset):
    """3DPW read from its sequence files (see the module docstring).

    The pkls are parsed when the dataset is built into compact arrays
    (``_SampleTable``); images stay on disk until the pipeline.

    Per sample (``BaseMeshDataset``'s contract): ``smpl_pose`` (72,) with
    the camera-frame root, ``smpl_betas`` (10,) (the first 10 of 10 or
    300), ``has_smpl`` 1, ``gender`` 'male'/'female', ``keypoints_2d``
    (14, 3) px: LSP-14 from the OpenPose COCO-18 ``poses2d`` with their
    detection confidences (OpenPose neck and hips for LSP's, head top at
    confidence 0; all 0 in frames without detections), ``keypoints_3d``
    (14, 4) at confidence 0 (the GT mesh supervises 3D), ``bbox_center``,
    ``bbox_size``, ``img_path``, plus ``sequence_file``, ``person`` and
    ``frame`` for messages.

    Args:
        data_root: The folder holding ``sequenceFiles/`` and
            ``imageFiles/`` (``data/3dpw``).
        split: 'train', 'validation' or 'test'.
        box: How the crop box is made. 'spin': SPIN's and MMHuman3D's, from
            the detected ``poses2d`` joints, a square 1.2x their extent;
            frames without detections are left out (as the official
            3dpw-eval does). 'pose2mesh': Pose2Mesh's, the GT SMPL joints
            projected with K, those inside the image, w and h x1.2, which
            METRO's 3DPW TSVs (PointHMR's evaluation crops) crop as a
            square 1.2 max(w, h); frames with no joint in the image are
            left out. Needs each sequence's first image (its size).
        eval_protocol: '3dpw' (METRO's, what PointHMR reports: neutral GT
            mesh), '3dpw_gendered' (SPIN's: the actor's gendered GT mesh)
            or None (training).
        **kwargs: :class:`BaseMeshDataset` arguments (``pipeline``,
            ``test_mode``, ``on_error``, ``dataset_name``, ...).
    """
    DOWNLOAD_HINT = (
        '3DPW: download imageFiles.zip and sequenceFiles.zip from '
        'https://virtualhumans.mpi-inf.mpg.de/3DPW/ (direct download; '
        'research licence accepted by downloading, see '
        'https://virtualhumans.mpi-inf.mpg.de/3DPW/license.html) and unzip '
        'both into data/3dpw/, giving data/3dpw/sequenceFiles/{train,'
        'validation,test}/*.pkl and data/3dpw/imageFiles/<sequence>/'
        'image_%05d.jpg. Gendered evaluation also needs the male and female '
        'SMPL models (https://smpl.is.tue.mpg.de).')

    def __init__(self, data_root: str = 'data/3dpw', split: str = 'test',
                 box: str = 'pose2mesh',
                 eval_protocol: Optional[str] = None, **kwargs):
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        if box not in BOXES:
            raise ValueError(f'box must be one of {BOXES}, got {box!r}')
        if eval_protocol not in PROTOCOLS:
            raise ValueError(f'eval_protocol must be one of {PROTOCOLS}, '
                             f'got {eval_protocol!r}')
        if kwargs.pop('serialize_data', False):
            raise ValueError('Pw3dDataset keeps its samples as arrays; '
                             'serialize_data=True is not supported')
        self.split, self.box = split, box
        kwargs.setdefault('dataset_name', '3dpw')
        super().__init__(data_root=data_root, eval_protocol=eval_protocol,
                         serialize_data=False, **kwargs)

    @property
    def sequence_dir(self) -> str:
        return osp.join(self.data_root or '', 'sequenceFiles', self.split)

    @property
    def source(self) -> str:
        return self.sequence_dir

    def load_data_list(self) -> _SampleTable:
        """Parse every sequence file of the split."""
        folder = self.sequence_dir
        if not osp.isdir(folder):
            raise FileNotFoundError(f'{folder}: no such folder. '
                                    f'{self.DOWNLOAD_HINT}')
        files = sorted(f for f in os.listdir(folder) if f.endswith('.pkl'))
        if not files:
            raise FileNotFoundError(f'{folder}: no .pkl sequence files. '
                                    f'{self.DOWNLOAD_HINT}')
        parts, names = [], []
        for i, name in enumerate(files):
            part = read_sequence(osp.join(folder, name), self.box)
            names.append(part.pop('name'))
            part['sequence'] = np.full(len(part['frame']), i, np.int16)
            parts.append(part)
        arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        image_root = osp.join(self.data_root or '', 'imageFiles')
        return _SampleTable(arrays, names, files, image_root)

    def supervision(self) -> Dict[str, bool]:
        """Exact, from the label arrays: every sample has SMPL (vertices,
        heatmaps), none has 3D joints, 2D joints where OpenPose found
        some."""
        arrays = self.data_list.arrays if isinstance(
            self.data_list, _SampleTable) else None
        if arrays is None:  # a subset given as a list of samples
            return super().supervision()
        some = len(arrays['frame']) > 0
        return dict(vertices=some, heatmap=some, joints_3d=False,
                    joints_2d=bool((arrays['keypoints_2d'][..., 2] > 0).any()))
