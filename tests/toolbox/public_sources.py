"""Tiny file sets in the layouts of the data a user can download today,
written as their producers write them: EMDB (eth-ait/emdb ``dataset.md``),
BEDLAM / AGORA SMPL labels (BEDLAM ``df_full_body*.py``, read by CameraHMR
``DatasetTrain``) and Human3.6M with NeuralAnnot fits (I2L-MeshNet
``Human36M.py``, NeuralAnnot ``Human3.6M/demo_smpl.py``).

Images are small flat JPEG/PNG files; label values are random but keep the
producers' keys, dtypes, units and frames.
"""
import json
import pickle
from pathlib import Path
from typing import Dict, Sequence

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

# Small, so the tests stay fast; EMDB's real frames are 1440x1920.
EMDB_HW = (48, 36)
# (subject, sequence, emdb1, emdb2, frames, gender)
EMDB_SEQUENCES = (('P1', '14_outdoor_climb', True, False, 5, 'female'),
                  ('P3', '27_indoor_walk', False, True, 4, 'male'),
                  ('P7', '61_outdoor_sit', True, True, 3, 'male'))


def _image(path: Path, hw, value: int = 120) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((*hw, 3), value, np.uint8))


def emdb_sequence(count: int, gender: str, emdb1: bool, emdb2: bool,
                  seed: int = 0) -> dict:
    """One ``*_data.pkl`` dict: frame 1 is bad (``good_frames_mask``
    False), frame 2 good but with an empty box; both are in
    ``bboxes.invalid_idxs``, as the authors define it."""
    rng = np.random.default_rng(seed)
    height, width = EMDB_HW
    extrinsics = np.tile(np.eye(4), (count, 1, 1))
    extrinsics[:, :3, :3] = Rotation.random(count, random_state=seed) \
        .as_matrix()
    extrinsics[:, :3, 3] = rng.normal(size=(count, 3))
    kp2d = rng.uniform([4, 6], [width - 4, height - 6], (count, 24, 2))
    boxes = np.concatenate([kp2d.min(1) - 2, kp2d.max(1) + 2], axis=1)
    good = np.ones(count, bool)
    good[1] = False
    boxes[2] = [10., 10., 10., 30.]  # zero width
    return dict(
        gender=gender, name='P0_00_test', emdb1=emdb1, emdb2=emdb2,
        n_frames=count, good_frames_mask=good,
        camera=dict(intrinsics=np.array([[40., 0, width / 2],
                                         [0, 40., height / 2], [0, 0, 1]]),
                    extrinsics=extrinsics, width=width, height=height),
        smpl=dict(poses_root=rng.normal(size=(count, 3)),
                  poses_body=rng.normal(size=(count, 69)) * 0.2,
                  trans=rng.normal(size=(count, 3)).astype(np.float32),
                  betas=rng.normal(size=10).astype(np.float32)),
        kp2d=kp2d,
        bboxes=dict(bboxes=boxes, invalid_idxs=np.array([1, 2])))


def write_emdb(root: Path,
               sequences: Sequence = EMDB_SEQUENCES) -> Dict[str, dict]:
    """``root/P*/<seq>/{images/%05d.jpg, <P>_<seq>_data.pkl}``; returns the
    written dicts by ``<P>_<seq>``."""
    written = {}
    for i, (subject, name, emdb1, emdb2, count, gender) in \
            enumerate(sequences):
        folder = Path(root) / subject / name
        data = emdb_sequence(count, gender, emdb1, emdb2, seed=i)
        data['name'] = f'{subject}_{name}'
        if i % 2:  # flags as numpy booleans too (either pickles the same)
            data.update(emdb1=np.bool_(emdb1), emdb2=np.bool_(emdb2))
        for frame in range(count):
            _image(folder / 'images' / f'{frame:05d}.jpg', EMDB_HW)
        with open(folder / f'{subject}_{name}_data.pkl', 'wb') as f:
            pickle.dump(data, f)
        written[data['name']] = data
    return written


# Stored BEDLAM frames are landscape (1280x720 real); closeup scenes'
# labels are in the frame turned 90 degrees clockwise (720x1280).
BEDLAM_HW = (24, 40)
BEDLAM_SCENE = '20221010_3-10_500_batch01hand_zoom_suburb_d_6fps'
BEDLAM_CLOSEUP = '20221011_1_250_batch01hand_closeup_suburb_a_6fps'
BEDLAM_NOT_ROTATED = '20221017_1_250_batch01hand_closeup_suburb_a_6fps'
# CameraHMR's 44 joints: OpenPose-25 then the extra joints (LSP-14 first);
# the OpenPose twins of LSP joints (OpenPose index, LSP index).
_TWINS = ((11, 0), (10, 1), (9, 2), (12, 3), (13, 4), (14, 5), (4, 6),
          (3, 7), (2, 8), (5, 9), (6, 10), (7, 11), (1, 12))


def bedlam_labels(count: int, portrait: bool = False, betas: int = 11,
                  seed: int = 0) -> dict:
    """A label npz's arrays as ``df_full_body_smpl.py`` writes them (lists
    of floats saved by ``np.savez``: float64, strings as unicode)."""
    rng = np.random.default_rng(seed)
    height, width = BEDLAM_HW[::-1] if portrait else BEDLAM_HW
    cam_int = np.tile(np.array([[30., 0, width / 2], [0, 30., height / 2],
                                [0, 0, 1]]), (count, 1, 1))
    cam_ext = np.tile(np.eye(4), (count, 1, 1))
    cam_ext[:, :3, :3] = Rotation.random(count, random_state=seed) \
        .as_matrix()
    cam_ext[:, :3, 3] = rng.normal([0, 0, 5], 0.5, (count, 3))
    gtkps = np.ones((count, 44, 3))
    gtkps[:, 25:39, :2] = rng.uniform([2, 2], [width - 2, height - 2],
                                      (count, 14, 2))
    for op, lsp in _TWINS:  # the same body point in both joint sets
        gtkps[:, op, :2] = gtkps[:, 25 + lsp, :2] + rng.normal(0, .1, 2)
    lo, hi = gtkps[:, 25:39, :2].min(1), gtkps[:, 25:39, :2].max(1)
    return dict(
        imgname=np.array([f'seq_{i:06d}/seq_{i:06d}_0000.png'
                          for i in range(count)]),
        center=(lo + hi) / 2, scale=1.2 * (hi - lo).max(1) / 200,
        pose_cam=rng.normal(size=(count, 72)) * 0.2,
        pose_world=rng.normal(size=(count, 72)) * 0.2,
        shape=rng.normal(size=(count, betas)),
        trans_cam=rng.normal(size=(count, 3)) * 0.1,
        trans_world=rng.normal(size=(count, 3)),
        cam_ext=cam_ext, cam_int=cam_int, gtkps=gtkps,
        gender=np.array(['female', 'male'] * count)[:count],
        sub=np.array([f'rp_{i}' for i in range(count)]))


def write_bedlam(root: Path, count: int = 3) -> Dict[str, dict]:
    """``root/labels/<scene>.npz`` and ``root/images/<scene>/png/<imgname>``
    for a plain scene, a closeup scene (stored landscape, labels portrait)
    and the closeup-named scene BEDLAM's readers do not rotate; AGORA's
    ``root/agora/agora.npz`` (10 betas) with ``root/agora/images``."""
    written = {}
    scenes = ((BEDLAM_SCENE, False), (BEDLAM_CLOSEUP, True),
              (BEDLAM_NOT_ROTATED, False))
    for i, (scene, portrait) in enumerate(scenes):
        labels = bedlam_labels(count, portrait, seed=i)
        for name in labels['imgname']:
            _image(Path(root) / 'images' / scene / 'png' / name, BEDLAM_HW)
        (Path(root) / 'labels').mkdir(parents=True, exist_ok=True)
        np.savez(Path(root) / 'labels' / f'{scene}.npz', **labels)
        written[scene] = labels
    agora = bedlam_labels(count, betas=10, seed=7)
    agora['imgname'] = np.array([f'ag_trainset_{i}.png'
                                 for i in range(count)])
    for name in agora['imgname']:
        _image(Path(root) / 'agora' / 'images' / name, BEDLAM_HW)
    np.savez(Path(root) / 'agora' / 'agora.npz', **agora)
    written['agora'] = agora
    return written


H36M_HW = (40, 30)
H36M_CAMERAS = (1, 4)  # cam_idx 4 is the frontal camera of protocol 2
H36M_FRAMES = 11  # frame_idx 0..10: frames 0, 5, 10 are sampled


def h36m_subject(subject: int, fits=None, seed: int = 0) -> dict:
    """The four JSON trees of one subject (action 2, subaction 1).

    Args:
        subject: Subject number.
        fits: Optional ``frame -> (pose (72,), shape (10,), trans (3,),
            joints_world (17, 3) m)``: the SMPL fit and the mocap joints of
            those frames; other frames get random joints and fits.
        seed: Random seed.
    """
    rng = np.random.default_rng(seed)
    height, width = H36M_HW
    cameras = {}
    for cam in H36M_CAMERAS:
        rot = Rotation.from_rotvec([0.1 * cam, 0.2, 0.]).as_matrix()
        cameras[str(cam)] = dict(R=rot.tolist(),
                                 t=[10. * cam, -20., 5000.],  # mm
                                 f=[30., 31.], c=[width / 2, height / 2])
    images, annotations, joints, smpl = [], [], {}, {}
    for frame in range(H36M_FRAMES):
        pose, shape, trans, world = (fits or {}).get(frame, (
            rng.normal(size=72) * 0.2, rng.normal(size=10),
            rng.normal(size=3) * 0.1, rng.normal(size=(17, 3)) * 0.4))
        joints.setdefault('2', {}).setdefault('1', {})[str(frame)] = \
            (np.asarray(world) * 1000.).tolist()  # mm
        smpl.setdefault('2', {}).setdefault('1', {})[str(frame)] = dict(
            pose=list(map(float, pose)), shape=list(map(float, shape)),
            trans=list(map(float, trans)))
        for cam in H36M_CAMERAS:
            image_id = len(images)
            name = (f's_{subject:02d}_act_02_subact_01_ca_{cam:02d}/'
                    f's_{subject:02d}_act_02_subact_01_ca_{cam:02d}_'
                    f'{frame + 1:06d}.jpg')
            images.append(dict(id=image_id, file_name=name, width=width,
                               height=height, subject=subject, action_name=
                               'Directions', action_idx=2, subaction_idx=1,
                               frame_idx=frame, cam_idx=cam))
            annotations.append(dict(id=image_id, image_id=image_id,
                                    bbox=[5., 6., 12., 20.],
                                    keypoints_vis=[True] * 17))
    return dict(data=dict(images=images, annotations=annotations),
                camera=cameras, joint_3d=joints, SMPL_NeuralAnnot=smpl)


def write_h36m(root: Path, subjects: Sequence[int] = (1, 9),
               fits=None) -> Dict[int, dict]:
    """``root/annotations/Human36M_subject{S}_*.json`` and
    ``root/images/<file_name>``; ``fits`` by subject (see
    :func:`h36m_subject`)."""
    written = {}
    (Path(root) / 'annotations').mkdir(parents=True, exist_ok=True)
    for i, subject in enumerate(subjects):
        trees = h36m_subject(subject, (fits or {}).get(subject), seed=i)
        for kind, tree in trees.items():
            with open(Path(root) / 'annotations' /
                      f'Human36M_subject{subject}_{kind}.json', 'w') as f:
                json.dump(tree, f)
        for img in trees['data']['images']:
            _image(Path(root) / 'images' / img['file_name'], H36M_HW)
        written[subject] = trees
    return written
