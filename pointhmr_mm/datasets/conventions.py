"""Keypoint conventions of the annotation formats we read.

MMHuman3D stores every dataset's keypoints in its 190-joint ``human_data``
convention; the names and their order below are facts from MMHuman3D 0.11
(``core/conventions/keypoints_mapping/human_data.py``). The loaders turn
them into the LSP-14 order of ``docs/conventions.md``.

Shape shorthand: N samples, K = 190 human_data keypoints, C channels (the
last one is the confidence).
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from pointhmr_mm.utils.constants import GENDERS
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

# Where each LSP-14 joint may be stored: first MMHuman3D's LSP name
# (``keypoints_mapping/lsp.py``: the regressor joints ``*_extra`` and
# ``headtop``, what LSP and Human3.6M label and what the evaluation
# regresses), then that name's ``APPROXIMATE_MAP`` entries in MMHuman3D's
# order (``human_data.APPROXIMATE_MAPPING_LIST``). As in MMHuman3D's
# ``get_mapping(approximate=True)``, an approximate joint is used only when
# the file's convention lacks the preferred joint entirely, never per sample.
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

# Stored gender strings (HumanData's 'm'/'f', METRO's 'male'/'female',
# METRO's 'none' for a missing label), any case.
GENDER_STRINGS = {
    'm': 'male', 'male': 'male', 'f': 'female', 'female': 'female',
    'n': 'neutral', 'neutral': 'neutral', 'none': 'neutral', '': 'neutral'}
# Integer codes differ between datasets, so a dataset config sets them
# (``gender_codes``). The default is SPIN's (0 = male, 1 = female), which
# SPIN-style files and MMHuman3D's evaluation ('m' -> 0, else 1) follow.
# SURREAL's raw integers, which MMHuman3D's SURREAL converter stores, are
# the other way round: use SURREAL_GENDER_CODES there.
SPIN_GENDER_CODES = {0: 'male', 1: 'female', -1: 'neutral'}
SURREAL_GENDER_CODES = {0: 'female', 1: 'male', -1: 'neutral'}


def check_gender_codes(codes) -> Dict[int, str]:
    """Validate a ``gender_codes`` mapping (int -> 'male' | 'female' |
    'neutral'); None gives :data:`SPIN_GENDER_CODES`."""
    if codes is None:
        return dict(SPIN_GENDER_CODES)
    if not isinstance(codes, dict):
        raise ValueError(f'gender_codes must be a dict int -> gender, got '
                         f'{type(codes).__name__}')
    out = {}
    for key, value in codes.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise ValueError(f'gender_codes keys must be ints, got {key!r}')
        if value not in GENDERS:
            raise ValueError(f'gender_codes[{key}] must be one of {GENDERS},'
                             f' got {value!r}')
        out[int(key)] = value
    return out


def file_convention(mask: Optional[np.ndarray]) -> np.ndarray:
    """(190,) bool: the human_data joints a file's convention has.

    HumanData's ``keypoints*_mask`` is 0 where "the joint cannot be found in
    the original dataset"; without a mask every joint counts (as in
    MMHuman3D's ``convert_kps(mask=None)``).
    """
    if mask is None:
        return np.ones(HUMAN_DATA_NUM_KEYPOINTS, bool)
    mask = np.asarray(mask).reshape(-1) != 0
    if mask.shape != (HUMAN_DATA_NUM_KEYPOINTS, ):
        raise ValueError(f'mask must have {HUMAN_DATA_NUM_KEYPOINTS} '
                         f'entries, got {mask.shape}')
    return mask


def lsp14_sources(present: Optional[np.ndarray] = None
                  ) -> Tuple[Optional[str], ...]:
    """The human_data joint each LSP-14 joint is read from.

    Args:
        present: (190,) bool, the joints the file's convention has (see
            :func:`file_convention`); None: all of them.

    Returns:
        tuple: 14 names, the first candidate of
        :data:`LSP14_FROM_HUMAN_DATA` the file has; None where it has none.
    """
    present = file_convention(present)
    return tuple(
        next((name for name in names if present[HUMAN_DATA_INDEX[name]]),
             None) for names in LSP14_FROM_HUMAN_DATA)


def human_data_to_lsp14(keypoints: np.ndarray,
                        present: Optional[np.ndarray] = None) -> np.ndarray:
    """Pick LSP-14 out of human_data keypoints, one source joint per file.

    Each LSP joint is read, for every sample, from the joint
    :func:`lsp14_sources` names: an occluded joint keeps its confidence 0
    even where an approximate joint (e.g. OpenPose's) is detected. A joint
    the file lacks entirely gets all zeros.

    Args:
        keypoints: (N, 190, C), confidence in the last channel.
        present: (190,) bool, the file's convention (None: every joint).

    Returns:
        np.ndarray: (N, 14, C) float32.
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.ndim != 3 or keypoints.shape[1] != HUMAN_DATA_NUM_KEYPOINTS:
        raise ValueError(f'keypoints must be (N, {HUMAN_DATA_NUM_KEYPOINTS},'
                         f' C), got {keypoints.shape}')
    num, _, channels = keypoints.shape
    out = np.zeros((num, len(LSP14_FROM_HUMAN_DATA), channels), np.float32)
    for j, name in enumerate(lsp14_sources(present)):
        if name is not None:
            out[:, j] = keypoints[:, HUMAN_DATA_INDEX[name]]
    return out


def lsp14_human_data_slots() -> Sequence[int]:
    """Indices of the 14 preferred human_data slots, in LSP-14 order."""
    return [HUMAN_DATA_INDEX[names[0]] for names in LSP14_FROM_HUMAN_DATA]


def normalise_gender(value, codes: Optional[Dict[int, str]] = None) -> str:
    """Map a stored gender ('m', 'female', b'f', 0, ...) to 'neutral',
    'male' or 'female'.

    Args:
        value: A string (any case, see :data:`GENDER_STRINGS`) or an integer
            code (also a float holding an integer, as numpy may store it).
        codes: Integer codes (see :func:`check_gender_codes`); None gives
            SPIN's, :data:`SPIN_GENDER_CODES`.
    """
    codes = SPIN_GENDER_CODES if codes is None else codes
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        key = value.strip().lower()
        if key in GENDER_STRINGS:
            return GENDER_STRINGS[key]
        raise ValueError(f'unknown gender {value!r}; expected one of '
                         f'{sorted(GENDER_STRINGS)} or an integer code')
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if value in codes:
            return codes[value]
        raise ValueError(f'gender code {value} is not in gender_codes '
                         f'{codes}; set gender_codes in the dataset config')
    raise ValueError(f'unknown gender {value!r}; expected a string or an '
                     'integer code')
