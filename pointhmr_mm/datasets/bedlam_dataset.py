"""BEDLAM and AGORA from their SMPL label files (``bedlam-labels-smpl.zip``:
one ``<scene>.npz`` per BEDLAM scene plus ``agora.npz``), the labels
CameraHMR trains on.

Keys read (BEDLAM ``data_processing/df_full_body_smpl.py`` writes them,
CameraHMR ``core/datasets/dataset_train.py`` reads them): ``imgname`` (N,)
relative image paths, ``center`` (N, 2) px, ``scale`` (N,) (box side /
200, already x1.2), ``pose_cam`` (N, 72) SMPL axis-angle with the root in
the camera frame, ``shape`` (N, 11) neutral SMPL betas (AGORA: 10),
``trans_cam`` (N, 3) m, ``cam_ext`` (N, 4, 4) (``cam_ext[:3, 3]`` = the
body's placement in the camera), ``cam_int`` (N, 3, 3) px, ``gtkps``
(N, J, 3) projected joints (CameraHMR uses the first 44: OpenPose-25 then
SPIN's extra joints, LSP-14 first), ``gender`` (N,) 'female'/'male'.

Shape shorthand: N samples of a file, S samples of the dataset.
"""
import glob
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import cv2
import mmcv
import numpy as np
from mmengine import fileio
from mmengine.logging import print_log

from pointhmr_mm.registry import DATASETS
from pointhmr_mm.utils.safe_pickle import load_npz
from .array_mesh_dataset import ArrayMeshDataset, column_sample
from .base_mesh_dataset import check_finite, check_shape

REQUIRED = ('imgname', 'center', 'scale', 'pose_cam', 'shape', 'trans_cam',
            'cam_ext', 'cam_int')
NUM_POSE = 72
SMPLX_POSE = 165  # the SMPL-X labels (all_npz_12_training.zip)
NUM_BETAS = 10
SPIN_SCALE_PX = 200.  # box side in px per unit of ``scale``
# CameraHMR's 44 joints: OpenPose BODY_25, then SPIN's extra joints, whose
# first 14 are LSP-14 in order (core/constants.py JOINT_NAMES).
GTKPS_MIN_JOINTS = 44
GTKPS_LSP14 = slice(25, 39)
# OpenPose joints that must sit where their LSP twins are (R/L ankle, R/L
# wrist) in CameraHMR's layout: (OpenPose index, LSP-14 index).
GTKPS_TWINS = ((11, 0), (14, 5), (4, 6), (7, 11))
TWIN_TOLERANCE = 0.1  # of the box side, median over samples
# Closeup scenes are stored rotated; BEDLAM's and CameraHMR's readers turn
# them upright (cv2.ROTATE_90_CLOCKWISE) when their dataset key contains
# 'closeup'. The scene below is listed under the key
# 'staticzoomed-suburba-frameocc' by both readers, so it is never rotated,
# although its folder says closeup.
NOT_ROTATED_CLOSEUPS = ('20221017_1_250_batch01hand_closeup_suburb_a_6fps', )
GENDERS = ('neutral', 'male', 'female')


class RotateClockwise:
    """Load a sample's image and turn it 90 degrees clockwise, as the
    closeup scenes need, when the sample says ``rotate_cw``; the next
    ``LoadMeshImage`` only checks it. Put in front of the pipeline by
    :class:`BedlamDataset`."""

    def __call__(self, results: dict) -> dict:
        if results.get('rotate_cw') and results.get('img') is None:
            path = results['img_path']
            try:
                data = fileio.get(path)
            except FileNotFoundError as error:
                raise FileNotFoundError(f'BedlamDataset: image not found for '
                                        f"sample {results.get('sample_idx')} "
                                        f'({path})') from error
            img = mmcv.imfrombytes(data, flag='color', channel_order='bgr')
            if img is None:
                raise ValueError(f'BedlamDataset: cannot decode {path}')
            results['img'] = cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'


def default_rotation(ann_file: str) -> bool:
    """Whether BEDLAM's readers rotate the images of this label file."""
    stem = osp.splitext(osp.basename(ann_file))[0]
    return 'closeup' in stem and stem not in NOT_ROTATED_CLOSEUPS


@DATASETS.register_module()
class BedlamDataset(ArrayMeshDataset):
    """BEDLAM / AGORA crops from SMPL label files.

    Each label file is an entry of ``ann_files``: a path (or a glob
    pattern, one entry per match), or ``dict(ann_file=..., img_dir=...,
    rotate=...)``; relative paths start at ``data_root``. Images are
    ``img_dir/<imgname>``; by default ``img_dir`` is
    ``data_prefix['img']/<file stem>/png``, the layout of BEDLAM's image
    tars (AGORA's images need an explicit ``img_dir``). ``rotate`` (default:
    BEDLAM's rule, see :data:`NOT_ROTATED_CLOSEUPS`) turns the images 90
    degrees clockwise before cropping: closeup labels are in that frame.

    Labels per sample: the box (``center``, side ``scale * 200``), SMPL
    ``pose_cam`` (root in the camera) and the first 10 of the neutral
    betas with ``gender`` 'neutral' (the labels are neutral-body fits;
    the subject's gender is kept as ``subject_gender``), the camera-frame
    translation ``smpl_transl`` = ``cam_ext[:3, 3] + trans_cam`` and
    ``cam_intrinsics`` (fx, fy, cx, cy) for whoever projects the body.
    2D keypoints: LSP-14 from ``gtkps`` as CameraHMR reads it (checked
    per file against the OpenPose twins of the same joints), confidence
    from its third column; ``keypoints_2d=None`` leaves them at
    confidence 0. The files have no 3D joints: confidence 0 (the GT mesh
    from the SMPL labels supervises the vertices). Label arrays are
    copied, never changed in place.

    Args:
        ann_file: One label file (same as ``ann_files=[ann_file]``).
        ann_files: Label files (paths or dicts, see above).
        data_prefix: ``dict(img=ROOT)``: the folder of the scene folders.
        keypoints_2d: 'camerahmr44' (read ``gtkps``) or None.
        **kwargs: :class:`BaseMeshDataset` arguments.
    """
    DOWNLOAD_HINT = (
        'BEDLAM / AGORA: register at https://bedlam.is.tue.mpg.de (and '
        'https://agora.is.tue.mpg.de; non-commercial research licences); '
        'download bedlam-labels-smpl.zip (SMPL labels, one <scene>.npz per '
        'scene plus agora.npz) into data/bedlam/labels/, the '
        '<scene>_6fps.tar image tars into data/bedlam/images/ (giving '
        '<scene>/png/<seq>/<frame>.png) and agora_images.tar into '
        'data/agora/.')

    def __init__(self, ann_file: Union[str, dict, None] = None,
                 ann_files: Optional[Sequence[Union[str, dict]]] = None,
                 data_prefix: Optional[dict] = None,
                 keypoints_2d: Optional[str] = 'camerahmr44',
                 dataset_name: str = 'bedlam', **kwargs):
        if (ann_file is None) == (ann_files is None):
            raise ValueError('BedlamDataset needs exactly one of ann_file '
                             'and ann_files')
        if keypoints_2d not in ('camerahmr44', None):
            raise ValueError("keypoints_2d must be 'camerahmr44' or None, "
                             f'got {keypoints_2d!r}')
        entries = [ann_file] if ann_file is not None else list(ann_files)
        if not entries:
            raise ValueError('ann_files is empty')
        self.keypoints_2d = keypoints_2d
        self._entries = entries
        self.files: List[dict] = []
        super().__init__(data_prefix=data_prefix or dict(img=''),
                         dataset_name=dataset_name, **kwargs)
        self.pipeline.transforms.insert(0, RotateClockwise())

    @property
    def source(self) -> str:
        return ', '.join(f['ann_file'] for f in self.files) or \
            self.dataset_name

    def _resolve(self, entry: Union[str, dict]) -> List[dict]:
        """An entry as dicts (ann_file, img_dir, rotate), paths joined with
        ``data_root``; a glob pattern gives one per matching file."""
        entry = dict(ann_file=entry) if isinstance(entry, str) else \
            dict(entry)
        unknown = set(entry) - {'ann_file', 'img_dir', 'rotate'}
        if 'ann_file' not in entry or unknown:
            raise ValueError(f'ann_files entry {entry} must have ann_file '
                             'and may have img_dir and rotate only')
        pattern = entry['ann_file']
        if self.data_root and not osp.isabs(pattern):
            pattern = osp.join(self.data_root, pattern)
        paths = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else \
            [pattern]
        if not paths:
            raise FileNotFoundError(f'{pattern}: no label file matches. '
                                    f'{self.DOWNLOAD_HINT}')
        resolved = []
        for path in paths:
            stem = osp.splitext(osp.basename(path))[0]
            img_dir = entry.get('img_dir')
            if img_dir is None:  # data_prefix is joined with data_root
                img_dir = osp.join(self.data_prefix.get('img', ''), stem,
                                   'png')
            elif self.data_root and not osp.isabs(img_dir):
                img_dir = osp.join(self.data_root, img_dir)
            rotate = entry.get('rotate')
            resolved.append(dict(
                ann_file=path, img_dir=img_dir,
                rotate=default_rotation(path) if rotate is None else
                bool(rotate)))
        return resolved

    def load_columns(self) -> Dict[str, np.ndarray]:
        """Read and check every label file."""
        files = [f for e in self._entries for f in self._resolve(e)]
        parts = [self._read(f, i) for i, f in enumerate(files)]
        self.files = files
        return {key: np.concatenate([p[key] for p in parts])
                for key in parts[0]}

    def _read(self, entry: dict, index: int) -> Dict[str, np.ndarray]:
        path = entry['ann_file']
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path}: no such label file. '
                                    f'{self.DOWNLOAD_HINT}')
        data = load_npz(path)
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise KeyError(f"{path}: no key '{missing[0]}' (has "
                           f'{sorted(data)})')
        names = np.asarray(data['imgname']).reshape(-1).astype(str)
        count = len(names)
        arrays = {}
        for key, shape in (('center', (count, 2)), ('scale', (count, )),
                           ('shape', (count, None)),
                           ('trans_cam', (count, 3)),
                           ('cam_ext', (count, 4, 4)),
                           ('cam_int', (count, 3, 3))):
            # a copy in float64: the stored arrays are never written
            arrays[key] = np.array(data[key], dtype=np.float64)
            check_shape(arrays[key], shape, key, path)
            check_finite(arrays[key], key, path)
        pose = self._pose(data['pose_cam'], count, path)
        if arrays['shape'].shape[1] < NUM_BETAS:
            raise ValueError(f"{path}: key 'shape' has shape "
                             f"{arrays['shape'].shape}, expected (N, >= "
                             f'{NUM_BETAS})')
        bad = np.flatnonzero(arrays['scale'] <= 0)
        if bad.size:
            raise ValueError(f"{path}: key 'scale' is not positive at sample "
                             f'{int(bad[0])}')
        self._check_rotation(entry, arrays['cam_int'])
        k = arrays['cam_int']
        genders = np.asarray(data.get('gender', ['neutral'] * count))
        return dict(
            file=np.full(count, index, np.int16),
            imgname=np.char.encode(names, 'utf-8'),
            center=arrays['center'].astype(np.float32),
            size=(arrays['scale'] * SPIN_SCALE_PX).astype(np.float32),
            pose=pose,
            betas=arrays['shape'][:, :NUM_BETAS].astype(np.float32),
            transl=(arrays['cam_ext'][:, :3, 3] +
                    arrays['trans_cam']).astype(np.float32),
            intrinsics=np.stack([k[:, 0, 0], k[:, 1, 1], k[:, 0, 2],
                                 k[:, 1, 2]], axis=1).astype(np.float32),
            keypoints_2d=self._keypoints(data, arrays['scale'], count, path),
            subject_gender=self._genders(genders, count, path))

    @staticmethod
    def _pose(pose, count: int, path: str) -> np.ndarray:
        pose = np.array(pose, dtype=np.float32)
        if pose.ndim == 3:  # (N, 24, 3), as CameraHMR also accepts
            pose = pose.reshape(len(pose), -1)
        if pose.ndim == 2 and pose.shape[1] == SMPLX_POSE:
            raise ValueError(f"{path}: key 'pose_cam' is {SMPLX_POSE} wide: "
                             'SMPL-X labels (all_npz_12_training). This '
                             'reader needs the SMPL labels '
                             '(bedlam-labels-smpl.zip)')
        check_shape(pose, (count, NUM_POSE), 'pose_cam', path)
        check_finite(pose, 'pose_cam', path)
        return pose

    def _keypoints(self, data: dict, scale: np.ndarray, count: int,
                   path: str) -> np.ndarray:
        """(N, 14, 3) LSP-14 px + confidence from ``gtkps``."""
        out = np.zeros((count, 14, 3), np.float32)
        if self.keypoints_2d is None:
            return out
        if 'gtkps' not in data:
            raise KeyError(f"{path}: no key 'gtkps' (set keypoints_2d=None "
                           'to train without 2D keypoints)')
        kps = np.asarray(data['gtkps'], dtype=np.float32)
        check_shape(kps, (count, None, None), 'gtkps', path)
        if kps.shape[1] < GTKPS_MIN_JOINTS or kps.shape[2] not in (2, 3):
            raise ValueError(f"{path}: key 'gtkps' has shape {kps.shape}, "
                             f'expected (N, >= {GTKPS_MIN_JOINTS}, 2|3) '
                             "(CameraHMR's layout); set keypoints_2d=None")
        check_finite(kps, 'gtkps', path)
        lsp = kps[:, GTKPS_LSP14]
        twins = np.array(GTKPS_TWINS)
        gap = np.linalg.norm(kps[:, twins[:, 0], :2] -
                             lsp[:, twins[:, 1], :2], axis=-1)
        side = scale * SPIN_SCALE_PX
        if count and np.median(gap / side[:, None]) > TWIN_TOLERANCE:
            raise ValueError(
                f"{path}: key 'gtkps' is not in CameraHMR's 44-joint layout "
                '(its OpenPose ankles/wrists are not where joints 25-38 put '
                'them); set keypoints_2d=None')
        out[..., :2] = lsp[..., :2]
        out[..., 2] = lsp[..., 2] if kps.shape[2] == 3 else 1.
        return out

    def _genders(self, genders: np.ndarray, count: int,
                 path: str) -> np.ndarray:
        genders = genders.reshape(-1)
        if len(genders) != count:
            raise ValueError(f"{path}: key 'gender' has {len(genders)} "
                             f'entries for {count} samples')
        codes = {g: GENDERS.index(self.gender(g, f"{path}: 'gender'"))
                 for g in np.unique(genders.astype(str))}
        return np.array([codes[g] for g in genders.astype(str)], np.int8)

    @staticmethod
    def _check_rotation(entry: dict, cam_int: np.ndarray) -> None:
        """Warn when the labels' principal point (the image centre of the
        frame they are in) disagrees with the rotation."""
        if not len(cam_int):
            return
        portrait = np.median(cam_int[:, 1, 2] - cam_int[:, 0, 2]) > 0
        if portrait != entry['rotate']:
            print_log(f"{entry['ann_file']}: labels are in a "
                      f"{'portrait' if portrait else 'landscape'} frame "
                      f"(cam_int) but rotate={entry['rotate']}; set 'rotate' "
                      'in its ann_files entry if the images disagree',
                      logger='current', level=logging.WARNING)

    def sample_labels(self, idx: int) -> dict:
        """Image path, box, SMPL labels and camera of sample ``idx``."""
        col = self.columns
        entry = self.files[int(col['file'][idx])]
        name = col['imgname'][idx].decode('utf-8')
        return dict(
            column_sample(col, idx),
            img_path=osp.join(entry['img_dir'], name),
            rotate_cw=entry['rotate'],
            smpl_transl=col['transl'][idx].copy(),
            cam_intrinsics=col['intrinsics'][idx].copy(),
            has_smpl=1., gender='neutral',
            subject_gender=GENDERS[int(col['subject_gender'][idx])])
