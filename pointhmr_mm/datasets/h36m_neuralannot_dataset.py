"""Human3.6M images with NeuralAnnot SMPL fits, in the layout of
I2L-MeshNet's ``data/Human36M`` and NeuralAnnot's ``Human3.6M/demo_smpl.py``.

``data_root/images/<file_name>`` and ``data_root/annotations/``:

- ``Human36M_subject{S}_data.json``: COCO style; ``images`` carry ``id``,
  ``file_name``, ``width``, ``height``, ``subject``, ``action_idx``,
  ``subaction_idx``, ``frame_idx``, ``cam_idx``; ``annotations`` carry
  ``image_id`` and ``bbox`` (xywh px).
- ``Human36M_subject{S}_camera.json``: ``{cam_idx: {R (3, 3), t (3,) mm,
  f (2,), c (2,)}}``, world to camera: ``x_cam = R x_world + t``.
- ``Human36M_subject{S}_joint_3d.json``: ``[action][subaction][frame]`` ->
  (17, 3) world mm, H36M-17 order.
- ``Human36M_subject{S}_SMPL_NeuralAnnot.json``: ``[action][subaction]
  [frame]`` -> ``{pose (72), shape (10), trans (3)}``, world frame, metres:
  the world mesh is ``SMPL(pose, shape) + trans``.

Shape shorthand: M samples of a subject, S samples of the dataset.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import print_log
from scipy.spatial.transform import Rotation

from pointhmr_mm.registry import DATASETS, MODELS
from pointhmr_mm.utils.keypoints import H36M_TO_J14
from .array_mesh_dataset import ArrayMeshDataset, column_sample

SPLITS = {'train': (1, 5, 6, 7, 8), 'test_p2': (9, 11)}
FRONTAL_CAMERA = 4  # camera 60457274 in I2L-MeshNet's / NeuralAnnot's order
NUM_H36M = 17
NUM_POSE = 72
NUM_BETAS = 10
MM = 1000.
IMAGE_KEYS = ('id', 'file_name', 'width', 'height', 'subject', 'action_idx',
              'subaction_idx', 'frame_idx', 'cam_idx')
FIT_BATCH = 1024


def _load_json(path: str, hint: str):
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file. {hint}')
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'{path}: not JSON ({err})') from None


def _nested(tree: dict, keys: Sequence, path: str, what: str):
    """``tree[k0][k1]...`` with string keys, or a KeyError naming them."""
    node = tree
    for key in keys:
        if not isinstance(node, dict) or str(key) not in node:
            raise KeyError(f'{path}: no {what} at '
                           + ''.join(f'[{k!r}]' for k in map(str, keys)))
        node = node[str(key)]
    return node


def sanitised_boxes(xywh: np.ndarray, width: np.ndarray,
                    height: np.ndarray) -> np.ndarray:
    """Boxes clipped to the image as NeuralAnnot's ``sanitize_bbox`` does.

    Args:
        xywh: (M, 4) px.
        width: (M,) image widths px.
        height: (M,) image heights px.

    Returns:
        np.ndarray: (M, 4) x1, y1, x2, y2; rows that are empty after
        clipping are NaN (the producers drop those samples).
    """
    x, y, w, h = xywh.T
    x1, y1 = np.maximum(0, x), np.maximum(0, y)
    x2 = np.minimum(width - 1, x1 + np.maximum(0, w - 1))
    y2 = np.minimum(height - 1, y1 + np.maximum(0, h - 1))
    boxes = np.stack([x1, y1, x2, y2], axis=1)
    boxes[~((w * h > 0) & (x2 > x1) & (y2 > y1))] = np.nan
    return boxes


@DATASETS.register_module()
class H36MNeuralAnnotDataset(ArrayMeshDataset):
    """Human3.6M crops with NeuralAnnot SMPL pseudo-GT.

    ``split='train'``: subjects 1, 5, 6, 7, 8, every camera, frames with
    ``frame_idx % frame_step == 0`` (I2L-MeshNet's training sampling).
    ``split='test_p2'`` (protocol 2, as METRO and PointHMR evaluate):
    subjects 9 and 11, the frontal camera (``cam_idx`` 4), the same
    sampling. ``frame_idx`` is the file's 0-based frame number, as SPIN's
    ``frame_i`` (its ``frame_i % 5 == 0`` selects the same frames; SPIN's
    image names add 1).

    Per sample: box = the annotation's box clipped to the image, a square
    of side ``bbox_expand`` x its longer side (NeuralAnnot's
    ``process_bbox``; samples with an empty box are dropped, as there);
    ``keypoints_3d`` = the mocap joints in the camera, metres, LSP-14
    (``H36M_TO_J14``), confidence 1; ``keypoints_2d`` = their projection
    with the camera's f, c; SMPL pose with the root turned into the camera
    (``R @ R_root``), betas, gender 'neutral'. ``has_smpl`` is 0 where the
    file has no fit and, when ``body_model`` is given, where the fit's
    H36M joints (its ``h36m`` regressor on ``SMPL(pose, shape) + trans``)
    are on average more than ``fitting_threshold`` mm from the mocap
    (I2L-MeshNet's test, run once per frame at build).

    Args:
        data_root: The folder holding ``images/`` and ``annotations/``.
        split: 'train' or 'test_p2'.
        subjects: Override the split's subjects.
        frame_step: Keep frames with ``frame_idx % frame_step == 0``.
        smpl_file: The fit files' suffix: 'SMPL_NeuralAnnot', or
            'smpl_param' (the older I2L-MeshNet/Pose2Mesh fits).
        bbox_expand: Crop side over the box's longer side.
        body_model: Body model config (with an ``h36m`` joint regressor)
            for the fitting test; None skips it.
        fitting_threshold: The test's limit, mm.
        **kwargs: :class:`BaseMeshDataset` arguments; ``eval_protocol``
            defaults to 'h36m_p2' for 'test_p2'.
    """
    DOWNLOAD_HINT = (
        'Human3.6M: images from http://vision.imar.ro/human3.6m (registration;'
        ' its licence forbids redistribution) or the parsed release linked '
        'by mks0601/I2L-MeshNet_RELEASE; annotations (Human36M_subject*_'
        '{data,camera,joint_3d}.json) from the same release and NeuralAnnot '
        'SMPL fits (Human36M_subject*_SMPL_NeuralAnnot.json) from '
        'mks0601/NeuralAnnot_RELEASE; put them in data/h36m/images/ and '
        'data/h36m/annotations/.')

    def __init__(self, data_root: str = 'data/h36m', split: str = 'train',
                 subjects: Optional[Sequence[int]] = None,
                 frame_step: int = 5,
                 smpl_file: str = 'SMPL_NeuralAnnot',
                 bbox_expand: float = 1.25,
                 body_model: Optional[dict] = None,
                 fitting_threshold: float = 25.,
                 dataset_name: str = 'h36m', **kwargs):
        if split not in SPLITS:
            raise ValueError(f'split must be one of {tuple(SPLITS)}, got '
                             f'{split!r}')
        if not (isinstance(frame_step, int) and frame_step > 0):
            raise ValueError(f'frame_step must be a positive int, got '
                             f'{frame_step!r}')
        if bbox_expand <= 0 or fitting_threshold <= 0:
            raise ValueError('bbox_expand and fitting_threshold must be '
                             f'positive, got {bbox_expand}, '
                             f'{fitting_threshold}')
        self.split = split
        self.subjects = tuple(subjects or SPLITS[split])
        self.frame_step = frame_step
        self.smpl_file = smpl_file
        self.bbox_expand = bbox_expand
        self.body_model = body_model
        self.fitting_threshold = fitting_threshold
        kwargs.setdefault('eval_protocol',
                          'h36m_p2' if split == 'test_p2' else None)
        super().__init__(data_root=data_root, dataset_name=dataset_name,
                         **kwargs)

    @property
    def source(self) -> str:
        return osp.join(str(self.data_root), 'annotations')

    def _file(self, subject: int, kind: str) -> str:
        return osp.join(self.source, f'Human36M_subject{subject}_{kind}.json')

    def load_columns(self) -> Dict[str, np.ndarray]:
        """Read every subject's files."""
        parts = [self._subject(s) for s in self.subjects]
        if self.body_model is not None:
            self._fitting_test(parts)
        for p in parts:
            for key in ('fit_pose', 'fit_betas', 'fit_trans', 'fit_joints',
                        'frame_key'):
                p.pop(key)
        return {key: np.concatenate([p[key] for p in parts])
                for key in parts[0]}

    def _images(self, subject: int) -> List[tuple]:
        """(image dict, box) of the selected annotations of a subject."""
        path = self._file(subject, 'data')
        data = _load_json(path, self.DOWNLOAD_HINT)
        for key in ('images', 'annotations'):
            if key not in data:
                raise KeyError(f"{path}: no key '{key}' (COCO layout)")
        images = {}
        for img in data['images']:
            missing = [k for k in IMAGE_KEYS if k not in img]
            if missing:
                raise KeyError(f"{path}: image {img.get('id')} has no key "
                               f"'{missing[0]}'")
            images[img['id']] = img
        selected = []
        for ann in data['annotations']:
            img = images.get(ann.get('image_id'))
            if img is None or 'bbox' not in ann:
                raise KeyError(f"{path}: annotation {ann.get('id')} has no "
                               'image_id of an image, or no bbox')
            if int(img['frame_idx']) % self.frame_step or (
                    self.split == 'test_p2'
                    and int(img['cam_idx']) != FRONTAL_CAMERA):
                continue
            selected.append((img, ann['bbox']))
        return selected

    def _subject(self, subject: int) -> Dict[str, np.ndarray]:
        selected = self._images(subject)
        cam_path = self._file(subject, 'camera')
        cameras = _load_json(cam_path, self.DOWNLOAD_HINT)
        joints_path = self._file(subject, 'joint_3d')
        joints_tree = _load_json(joints_path, self.DOWNLOAD_HINT)
        smpl_path = self._file(subject, self.smpl_file)
        fits = _load_json(smpl_path, self.DOWNLOAD_HINT)
        count = len(selected)
        cam = {k: np.zeros((count, ) + s) for k, s in
               (('R', (3, 3)), ('t', (3, )), ('f', (2, )), ('c', (2, )))}
        world = np.zeros((count, NUM_H36M, 3))
        fit = dict(pose=np.zeros((count, NUM_POSE)),
                   shape=np.zeros((count, NUM_BETAS)),
                   trans=np.zeros((count, 3)))
        has_fit = np.zeros(count, bool)
        parsed = {}  # cam_idx -> its checked arrays
        for i, (img, _) in enumerate(selected):
            frame = (img['action_idx'], img['subaction_idx'],
                     img['frame_idx'])
            if img['cam_idx'] not in parsed:
                params = _nested(cameras, [img['cam_idx']], cam_path,
                                 'camera')
                parsed[img['cam_idx']] = {
                    key: self._array(params, key, shape, cam_path,
                                     f"camera {img['cam_idx']}")
                    for key, shape in (('R', (3, 3)), ('t', (3, )),
                                       ('f', (2, )), ('c', (2, )))}
            for key, value in parsed[img['cam_idx']].items():
                cam[key][i] = value
            world[i] = self._array(
                dict(j=_nested(joints_tree, frame, joints_path, 'joints')),
                'j', (NUM_H36M, 3), joints_path, f'frame {list(frame)}')
            try:
                params = _nested(fits, frame, smpl_path, 'fit')
            except KeyError:  # no fit for this frame: has_smpl 0
                continue
            for key, size in (('pose', NUM_POSE), ('shape', NUM_BETAS),
                              ('trans', 3)):
                fit[key][i] = self._array(params, key, (size, ), smpl_path,
                                          f'fit {list(frame)}')
            has_fit[i] = True
        return self._columns_of(subject, selected, cam, world, fit, has_fit)

    @staticmethod
    def _array(params: dict, key: str, shape, path: str,
               where: str) -> np.ndarray:
        if not isinstance(params, dict) or key not in params:
            raise KeyError(f"{path}: {where} has no key '{key}'")
        value = np.asarray(params[key], dtype=np.float64)
        if key == 'shape' and value.ndim == 1 and len(value) >= shape[0]:
            value = value[:shape[0]]
        if value.shape != shape:
            raise ValueError(f"{path}: {where} key '{key}' has shape "
                             f'{value.shape}, expected {shape}')
        if not np.isfinite(value).all():
            raise ValueError(f"{path}: {where} key '{key}' has NaN/inf")
        return value

    def _columns_of(self, subject, selected, cam, world, fit,
                    has_fit) -> Dict[str, np.ndarray]:
        """Camera-frame labels of a subject's samples."""
        boxes = sanitised_boxes(
            np.array([b for _, b in selected], np.float64).reshape(-1, 4),
            np.array([img['width'] for img, _ in selected], np.float64),
            np.array([img['height'] for img, _ in selected], np.float64))
        keep = ~np.isnan(boxes).any(1)
        if not keep.all():
            print_log(f"{self._file(subject, 'data')}: {int((~keep).sum())}"
                      ' samples with an empty box dropped', logger='current')
        rot = cam['R']
        joints = (np.einsum('mij,mkj->mki', rot, world) +
                  cam['t'][:, None]) / MM
        uv = joints[..., :2] / joints[..., 2:] * cam['f'][:, None] + \
            cam['c'][:, None]
        lsp = list(H36M_TO_J14)
        root = (Rotation.from_matrix(rot) *
                Rotation.from_rotvec(fit['pose'][:, :3])).as_rotvec() \
            if len(rot) else np.zeros((0, 3))
        ones = np.ones((len(selected), len(lsp), 1))
        columns = dict(
            center=(boxes[:, :2] + boxes[:, 2:]) / 2,
            size=(boxes[:, 2:] - boxes[:, :2]).max(1) * self.bbox_expand,
            keypoints_2d=np.concatenate([uv[:, lsp], ones], -1),
            keypoints_3d=np.concatenate([joints[:, lsp], ones], -1),
            pose=np.concatenate([root, fit['pose'][:, 3:]], 1),
            betas=fit['shape'], has_smpl=has_fit)
        columns = {k: (v[keep].astype(np.float32) if v.dtype != bool else
                       v[keep]) for k, v in columns.items()}
        frames = np.array([[img['action_idx'], img['subaction_idx'],
                            img['frame_idx']] for img, _ in selected],
                          np.int64).reshape(-1, 3)
        names = [str(img['file_name']) for img, _ in selected]
        columns.update(
            # bytes, not Python strings: compact, and dropped on pickling
            file_name=np.char.encode(np.array(names, dtype=str), 'utf-8')
            [keep],
            fit_pose=fit['pose'][keep], fit_betas=fit['shape'][keep],
            fit_trans=fit['trans'][keep], fit_joints=world[keep] / MM,
            # one key per (action, subaction, frame) of the subject
            frame_key=((frames[:, 0] * 100 + frames[:, 1]) * 10**7 +
                       frames[:, 2])[keep])
        return columns

    @torch.no_grad()
    def _fitting_test(self, parts: List[dict]) -> None:
        """Clear ``has_smpl`` where the fit misses the mocap (mean joint
        error > ``fitting_threshold`` mm), once per distinct frame (the
        error does not depend on the camera)."""
        model = MODELS.build(self.body_model)
        for part in parts:
            _, first, inverse = np.unique(part['frame_key'],
                                          return_index=True,
                                          return_inverse=True)
            errors = []
            for start in range(0, len(first), FIT_BATCH):
                rows = first[start:start + FIT_BATCH]
                out = model(
                    pose=torch.as_tensor(part['fit_pose'][rows]).float(),
                    betas=torch.as_tensor(part['fit_betas'][rows]).float(),
                    transl=torch.as_tensor(part['fit_trans'][rows]).float())
                if 'h36m' not in out:
                    raise KeyError('body_model needs an h36m joint regressor'
                                   ' for the fitting test')
                gap = out['h36m'].double().numpy() - part['fit_joints'][rows]
                errors.append(np.linalg.norm(gap, axis=-1).mean(1) * MM)
            error = np.concatenate(errors)[inverse.reshape(-1)] \
                if errors else np.zeros(0)
            part['has_smpl'] &= error <= self.fitting_threshold
        del model

    def sample_labels(self, idx: int) -> dict:
        """Image path, box, mocap keypoints and SMPL labels of ``idx``."""
        col = self.columns
        return dict(
            column_sample(col, idx),
            img_path=osp.join(str(self.data_root), 'images',
                              col['file_name'][idx].decode('utf-8')),
            has_smpl=float(col['has_smpl'][idx]), gender='neutral')
