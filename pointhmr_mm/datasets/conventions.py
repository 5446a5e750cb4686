"""Keypoint conventions of the formats we read.

MMHuman3D's ``human_data`` convention has 190 keypoints. Only the indices
that LSP-14 needs are named here (facts from MMHuman3D's
``keypoints_mapping/human_data.py``); each LSP joint lists the human_data
keypoints that may carry it, preferred first.
"""
import numpy as np

HUMAN_DATA_NUM_KEYPOINTS = 190
HUMAN_DATA_INDEX = dict(
    pelvis=0, left_hip=1, right_hip=2, left_knee=4, right_knee=5,
    left_ankle=7, right_ankle=8, neck=12, left_shoulder=16,
    right_shoulder=17, left_elbow=18, right_elbow=19, left_wrist=20,
    right_wrist=21, right_hip_extra=144, left_hip_extra=145, neck_extra=146,
    headtop=147, headtop_h36m=186)
# LSP-14 joint -> human_data candidates, preferred first.
LSP14_FROM_HUMAN_DATA = (
    ('right_ankle', ), ('right_knee', ), ('right_hip', 'right_hip_extra'),
    ('left_hip', 'left_hip_extra'), ('left_knee', ), ('left_ankle', ),
    ('right_wrist', ), ('right_elbow', ), ('right_shoulder', ),
    ('left_shoulder', ), ('left_elbow', ), ('left_wrist', ),
    ('neck', 'neck_extra'), ('headtop', 'headtop_h36m'))
GENDER_CODES = {'m': 'male', 'male': 'male', 'f': 'female',
                'female': 'female', 'n': 'neutral', 'neutral': 'neutral',
                '': 'neutral', 0: 'male', 1: 'female', -1: 'neutral'}


def human_data_to_lsp14(keypoints: np.ndarray) -> np.ndarray:
    """(N, 190, C) -> (N, 14, C), taking the first labelled candidate of
    each joint (confidence in the last channel)."""
    out = np.zeros((keypoints.shape[0], 14, keypoints.shape[2]),
                   dtype=np.float32)
    for j, names in enumerate(LSP14_FROM_HUMAN_DATA):
        for name in reversed(names):  # preferred candidates written last
            src = keypoints[:, HUMAN_DATA_INDEX[name]]
            labelled = src[:, -1] > 0
            out[labelled, j] = src[labelled]
    return out


def lsp14_to_human_data(keypoints: np.ndarray) -> np.ndarray:
    """(N, 14, C) -> (N, 190, C) at the preferred human_data slots."""
    out = np.zeros((keypoints.shape[0], HUMAN_DATA_NUM_KEYPOINTS,
                    keypoints.shape[2]), dtype=np.float32)
    for j, names in enumerate(LSP14_FROM_HUMAN_DATA):
        out[:, HUMAN_DATA_INDEX[names[0]]] = keypoints[:, j]
    return out


def normalise_gender(value) -> str:
    key = value.strip().lower() if isinstance(value, str) else value
    if key not in GENDER_CODES:
        raise ValueError(f'unknown gender {value!r}')
    return GENDER_CODES[key]
