"""Keypoint conventions of the annotation formats we read.

MMHuman3D stores every dataset's keypoints in its 190-joint ``human_data``
convention; the names and their order below are facts from MMHuman3D 0.11
(``core/conventions/keypoints_mapping/human_data.py``). The loaders turn
them into the LSP-14 order of ``docs/conventions.md``.

Shape shorthand: N samples, K = 190 human_data keypoints, C channels (the
last one is the confidence).
"""
from typing import Sequence, Tuple

import numpy as np

from pointhmr_mm.utils.keypoints import LSP14_NAMES

_SIDES = ('left', 'right')
_FINGERS = ('index', 'middle', 'pinky', 'ring', 'thumb')

HUMAN_DATA_KEYPOINTS: Tuple[str, ...] = (
    # SMPL body joints 0..21, then SMPL-X's jaw and eyeballs
    'pelvis', 'left_hip', 'right_hip', 'spine_1', 'left_knee', 'right_knee',
    'spine_2', 'left_ankle', 'right_ankle', 'spine_3', 'left_foot',
    'right_foot', 'neck', 'left_collar', 'right_collar', 'head',
    'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'jaw', 'left_eyeball', 'right_eyeball',
    # three joints per finger, left hand then right hand
    *(f'{side}_{finger}_{k}' for side in _SIDES for finger in _FINGERS
      for k in (1, 2, 3)),
    'nose', 'right_eye', 'left_eye', 'right_ear', 'left_ear',
    'left_bigtoe', 'left_smalltoe', 'left_heel', 'right_bigtoe',
    'right_smalltoe', 'right_heel',
    # finger tips
    *(f'{side}_{finger}' for side in _SIDES
      for finger in ('thumb', 'index', 'middle', 'ring', 'pinky')),
    # 68-point face, without the contour's outer ends
    *(f'right_eyebrow_{k}' for k in range(1, 6)),
    *(f'left_eyebrow_{k}' for k in range(5, 0, -1)),
    *(f'nosebridge_{k}' for k in range(1, 5)),
    'right_nose_2', 'right_nose_1', 'nose_middle', 'left_nose_1',
    'left_nose_2',
    *(f'right_eye_{k}' for k in range(1, 7)),
    'left_eye_4', 'left_eye_3', 'left_eye_2', 'left_eye_1', 'left_eye_6',
    'left_eye_5',
    'right_mouth_1', 'right_mouth_2', 'right_mouth_3', 'mouth_top',
    'left_mouth_3', 'left_mouth_2', 'left_mouth_1', 'left_mouth_5',
    'left_mouth_4', 'mouth_bottom', 'right_mouth_4', 'right_mouth_5',
    'right_lip_1', 'right_lip_2', 'lip_top', 'left_lip_2', 'left_lip_1',
    'left_lip_3', 'lip_bottom', 'right_lip_3',
    *(f'right_contour_{k}' for k in range(1, 9)), 'contour_middle',
    *(f'left_contour_{k}' for k in range(8, 0, -1)),
    # joints of the extra regressors (LSP, MPII, H36M)
    'right_hip_extra', 'left_hip_extra', 'neck_extra', 'headtop',
    'pelvis_extra', 'thorax_extra', 'spine_extra', 'jaw_extra',
    'head_extra',
    # OpenPose BODY_25
    *(f'{name}_openpose' for name in (
        'nose', 'neck', 'right_shoulder', 'right_elbow', 'right_wrist',
        'left_shoulder', 'left_elbow', 'left_wrist', 'pelvis', 'right_hip',
        'right_knee', 'right_ankle', 'left_hip', 'left_knee', 'left_ankle',
        'right_eye', 'left_eye', 'right_ear', 'left_ear', 'left_bigtoe',
        'left_smalltoe', 'left_heel', 'right_bigtoe', 'right_smalltoe',
        'right_heel')),
    # MPI-INF-3DHP, H36M ground truth, PoseTrack, SMPL hands
    'spine_4_3dhp', 'left_clavicle_3dhp', 'right_clavicle_3dhp',
    'left_hand_3dhp', 'right_hand_3dhp', 'left_toe_3dhp', 'right_toe_3dhp',
    'head_h36m', 'headtop_h36m', 'head_bottom_pt', 'left_hand', 'right_hand')
HUMAN_DATA_NUM_KEYPOINTS = 190
HUMAN_DATA_INDEX = {name: i for i, name in enumerate(HUMAN_DATA_KEYPOINTS)}

# Where each LSP-14 joint may be stored, preferred first. The regressor
# joints (`*_extra`, `headtop`) come first because they are what LSP and
# Human3.6M label and what the evaluation regresses (the H36M regressor's
# hips sit wider than SMPL's kinematic hips); the kinematic and OpenPose
# joints are the fall-backs for datasets that label only those.
LSP14_FROM_HUMAN_DATA: Tuple[Tuple[str, ...], ...] = (
    ('right_ankle', 'right_ankle_openpose'),
    ('right_knee', 'right_knee_openpose'),
    ('right_hip_extra', 'right_hip', 'right_hip_openpose'),
    ('left_hip_extra', 'left_hip', 'left_hip_openpose'),
    ('left_knee', 'left_knee_openpose'),
    ('left_ankle', 'left_ankle_openpose'),
    ('right_wrist', 'right_wrist_openpose'),
    ('right_elbow', 'right_elbow_openpose'),
    ('right_shoulder', 'right_shoulder_openpose'),
    ('left_shoulder', 'left_shoulder_openpose'),
    ('left_elbow', 'left_elbow_openpose'),
    ('left_wrist', 'left_wrist_openpose'),
    ('neck_extra', 'neck', 'neck_openpose'),
    ('headtop', 'headtop_h36m'),
)
assert len(HUMAN_DATA_KEYPOINTS) == HUMAN_DATA_NUM_KEYPOINTS
assert len(LSP14_FROM_HUMAN_DATA) == len(LSP14_NAMES)

GENDER_CODES = {
    'm': 'male', 'male': 'male', 'f': 'female', 'female': 'female',
    'n': 'neutral', 'neutral': 'neutral', 'none': 'neutral', '': 'neutral',
    # integer codes of SPIN-style label files
    0: 'male', 1: 'female', -1: 'neutral'}


def human_data_to_lsp14(keypoints: np.ndarray) -> np.ndarray:
    """Pick LSP-14 out of human_data keypoints.

    Each LSP joint takes its first candidate in
    :data:`LSP14_FROM_HUMAN_DATA` whose confidence is positive; a joint with
    no labelled candidate gets all zeros (confidence 0).

    Args:
        keypoints: (N, 190, C), confidence in the last channel.

    Returns:
        np.ndarray: (N, 14, C) float32.
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.ndim != 3 or keypoints.shape[1] != HUMAN_DATA_NUM_KEYPOINTS:
        raise ValueError(f'keypoints must be (N, {HUMAN_DATA_NUM_KEYPOINTS},'
                         f' C), got {keypoints.shape}')
    num, _, channels = keypoints.shape
    out = np.zeros((num, len(LSP14_FROM_HUMAN_DATA), channels), np.float32)
    for j, names in enumerate(LSP14_FROM_HUMAN_DATA):
        for name in reversed(names):  # preferred candidates written last
            src = keypoints[:, HUMAN_DATA_INDEX[name]]
            labelled = src[:, -1] > 0
            out[labelled, j] = src[labelled]
    return out


def lsp14_to_human_data(keypoints: np.ndarray) -> np.ndarray:
    """Place LSP-14 keypoints at their preferred human_data slots.

    Args:
        keypoints: (N, 14, C).

    Returns:
        np.ndarray: (N, 190, C) float32, zeros at the other 176 slots.
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.ndim != 3 or keypoints.shape[1] != len(LSP14_NAMES):
        raise ValueError(f'keypoints must be (N, 14, C), got '
                         f'{keypoints.shape}')
    out = np.zeros((keypoints.shape[0], HUMAN_DATA_NUM_KEYPOINTS,
                    keypoints.shape[2]), dtype=np.float32)
    out[:, lsp14_human_data_slots()] = keypoints
    return out


def lsp14_human_data_slots() -> Sequence[int]:
    """Indices of the 14 preferred human_data slots, in LSP-14 order."""
    return [HUMAN_DATA_INDEX[names[0]] for names in LSP14_FROM_HUMAN_DATA]


def normalise_gender(value) -> str:
    """Map a stored gender code ('m', 'female', 0, b'f', ...) to 'neutral',
    'male' or 'female'."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.generic):
        value = value.item()
    key = value.strip().lower() if isinstance(value, str) else value
    if key not in GENDER_CODES:
        raise ValueError(f'unknown gender {value!r}; expected one of '
                         f'{sorted(str(k) for k in GENDER_CODES)}')
    return GENDER_CODES[key]
