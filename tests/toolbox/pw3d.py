"""3DPW's original release in miniature: ``sequenceFiles/<split>/*.pkl`` and
``imageFiles/<sequence>/image_%05d.jpg``, with the producer's properties.

The sequence files are pickled as Python 2 wrote them (protocol 2, every
``str`` and numpy buffer a Python-2 byte string), so they load only with
``encoding='latin1'``. Per person: ``poses`` (N, 72) world-frame root,
``trans``, ``betas`` (10,) or (300,), ``poses2d`` (N, 3, 18)
channel-major with all-zero frames, ``jointPositions`` (N, 72),
``campose_valid`` with zeros; per sequence ``cam_poses`` (N, 4, 4)
world -> camera and ``cam_intrinsics``.
"""
import io
import pickle
import struct
from pathlib import Path
from typing import Dict, Sequence

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

IMAGE_HW = (80, 60)  # portrait, like 3DPW's 1920 x 1080 frames
FOCAL = 70.


class Python2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2 wrote it: ``str`` and ``bytes`` both become
    Python-2 byte strings (BINSTRING), which Python 3 decodes with the
    ``encoding`` given to ``pickle.load`` (ASCII by default)."""

    def _save_py2_str(self, data: bytes):
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack('<i', len(data)) + data)

    def save_bytes(self, obj):
        self._save_py2_str(obj)
        self.memoize(obj)

    def save_str(self, obj):
        self._save_py2_str(obj.encode('latin1'))
        self.memoize(obj)

    def save_global(self, obj, name=None):
        # numpy 2 names numpy._core; Python-2 era files name numpy.core
        module = getattr(obj, '__module__', '')
        if module.startswith('numpy._core'):
            name = name or obj.__qualname__
            self.write(pickle.GLOBAL + module.replace('_core', 'core')
                       .encode() + b'\n' + name.encode() + b'\n')
            self.memoize(obj)
            return
        super().save_global(obj, name)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[bytes] = save_bytes
    dispatch[str] = save_str


def python2_pickle(obj) -> bytes:
    stream = io.BytesIO()
    Python2Pickler(stream, protocol=2).dump(obj)
    return stream.getvalue()


def project(cam_poses, intrinsics, joints_world):
    """(N, J, 2) pixels of (N, J, 3) world joints."""
    cam = (np.einsum('nij,nkj->nki', cam_poses[:, :3, :3], joints_world) +
           cam_poses[:, None, :3, 3])
    uv = cam[..., :2] / cam[..., 2:] * np.diag(intrinsics)[:2]
    return uv + intrinsics[:2, 2]


def sequence(name: str, frames: int, people: int, rng,
             wide_betas: Sequence[int] = (), empty_2d: Dict = None,
             invalid: Dict = None) -> dict:
    """One sequence dict as the 3DPW pkls hold it.

    Args:
        wide_betas: People whose ``betas`` are (300,).
        empty_2d: person -> frames whose ``poses2d`` are all zeros.
        invalid: person -> frames with ``campose_valid`` 0.
    """
    height, width = IMAGE_HW
    intrinsics = np.array([[FOCAL, 0, width / 2], [0, FOCAL * 1.01,
                                                   height / 2], [0, 0, 1.]])
    rot = Rotation.from_rotvec(rng.normal(size=(frames, 3)) * 0.2)
    cam_poses = np.tile(np.eye(4), (frames, 1, 1))
    cam_poses[:, :3, :3] = rot.as_matrix()
    cam_poses[:, :3, 3] = rng.normal(size=(frames, 3)) * 0.1 + [0, 0, 6.]
    data = dict(sequence=name, cam_intrinsics=intrinsics,
                cam_poses=cam_poses, genders=[], betas=[], poses=[],
                trans=[], poses2d=[], jointPositions=[], campose_valid=[],
                betas_clothed=[], texture_maps=[],
                img_frame_ids=np.arange(0, 2 * frames, 2, dtype=np.uint16))
    for p in range(people):
        offset = np.array([0.7 * p - 0.35 * (people - 1), 0., 0.])
        joints = rng.normal(size=(frames, 24, 3)) * 0.35 + offset
        uv = project(cam_poses, intrinsics, joints)
        # the 18 detections near the first 18 projected joints
        det = uv[:, :18] + rng.normal(size=(frames, 18, 2))
        conf = rng.uniform(0.1, 1., size=(frames, 18))
        conf[rng.uniform(size=conf.shape) < 0.15] = 0.
        poses2d = np.concatenate([det, conf[..., None]], 2)
        poses2d[conf == 0] = 0.
        poses2d[(empty_2d or {}).get(p, [])] = 0.
        valid = np.ones(frames, np.uint8)
        valid[(invalid or {}).get(p, [])] = 0
        width_betas = 300 if p in wide_betas else 10
        data['genders'].append('f' if p % 2 else 'm')
        data['betas'].append(rng.normal(size=width_betas))
        data['betas_clothed'].append(rng.normal(size=10))
        data['poses'].append(rng.normal(size=(frames, 72)) * 0.4)
        data['trans'].append(rng.normal(size=(frames, 3)))
        data['poses2d'].append(poses2d.transpose(0, 2, 1).copy())
        data['jointPositions'].append(joints.reshape(frames, 72))
        data['campose_valid'].append(valid)
    return data


def write_pw3d(root: Path, splits: Dict[str, Sequence[dict]]) -> Path:
    """Write ``root/sequenceFiles/<split>/<name>.pkl`` for each sequence
    dict and one small JPEG per frame; returns ``root``."""
    root = Path(root)
    for split, seqs in splits.items():
        folder = root / 'sequenceFiles' / split
        folder.mkdir(parents=True, exist_ok=True)
        for seq in seqs:
            (folder / f"{seq['sequence']}.pkl").write_bytes(
                python2_pickle(seq))
            images = root / 'imageFiles' / seq['sequence']
            images.mkdir(parents=True, exist_ok=True)
            for f in range(len(seq['cam_poses'])):
                img = np.full(IMAGE_HW + (3, ), 60 + 20 * (f % 5), np.uint8)
                cv2.imwrite(str(images / f'image_{f:05d}.jpg'), img)
    return root


def small_pw3d(root: Path, seed: int = 0) -> Path:
    """Two test sequences (one with two people, one 300-wide betas, empty
    detections and invalid camera frames) and one train and one
    validation sequence."""
    rng = np.random.default_rng(seed)
    return write_pw3d(root, dict(
        test=[sequence('downtown_test_00', 6, 2, rng, wide_betas=[1],
                       empty_2d={0: [2]}, invalid={1: [0, 4]}),
              sequence('downtown_test_01', 4, 1, rng, empty_2d={0: [3]})],
        train=[sequence('courtyard_train_00', 5, 1, rng, invalid={0: [1]})],
        validation=[sequence('courtyard_val_00', 3, 1, rng)]))
