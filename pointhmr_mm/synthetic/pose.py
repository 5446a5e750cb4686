"""Random plausible poses for a body whose rest pose is not a T-pose.

The joint limits are anatomical ranges written for a T-pose (arms along
+-x, legs along -y, elbows and knees straight), the frame they are easy to
state in. A body's own rest differs: Anny's upper arms hang ~49 degrees
below horizontal, its elbows are bent ~42 degrees and its knees ~8. So the
generator measures, from the body's rest joints, the rotation that takes
each T-pose limb bone to its rest bone (:func:`measure_rest_offsets`), draws
each joint's rotation in the T-pose frame around that rest (so relaxed
poses are the common ones) within the limits, and turns it into the body's
own local rotation (:func:`to_rest_frame`):

    local_j = Q_parent(j) @ R_T(j) @ Q_j^-1

with ``Q_j`` the accumulated T-pose -> rest rotation of joint j's bone
(``Q_parent`` of the bone above it; identity for the root). A T-pose body
has ``Q = I`` and the limits apply as written.

Frames: SMPL's body frame (x the body's left, y up, z forward); the root
rotation also turns the body into the camera frame (x right, y down, z
forward), i.e. 180 degrees about x, so that it faces the camera.
"""
from typing import Dict, Sequence

import numpy as np
import roma
import torch

from pointhmr_mm.utils.keypoints import SMPL24_PARENTS

NUM_SMPL_JOINTS = 24
# Pose limits, radians, on the axis-angle components of each SMPL joint in
# the T-pose frame. For the hinges (knees, elbows) one component is the
# bend, so the limit is exact; for ball joints it bounds each direction of
# the swing, which keeps poses plausible.
SMALL = ((-0.15, 0.15), ) * 3
JOINT_LIMITS = {
    1: ((-1.5, 0.4), (-0.4, 0.4), (-0.2, 0.7)),  # left hip: +z abducts
    2: ((-1.5, 0.4), (-0.4, 0.4), (-0.7, 0.2)),  # right hip
    3: ((-0.2, 0.5), (-0.3, 0.3), (-0.2, 0.2)),  # spine: +x bends forward
    # knees bend backwards only; z: the rest's slight knock-knee
    4: ((0., 2.0), (0., 0.), (-0.1, 0.1)),
    5: ((0., 2.0), (0., 0.), (-0.1, 0.1)),
    6: ((-0.1, 0.3), (-0.2, 0.2), (-0.15, 0.15)),
    7: ((-0.4, 0.5), (-0.2, 0.2), (-0.2, 0.2)),  # ankles
    8: ((-0.4, 0.5), (-0.2, 0.2), (-0.2, 0.2)),
    9: ((-0.1, 0.3), (-0.2, 0.2), (-0.15, 0.15)),
    12: ((-0.3, 0.4), (-0.4, 0.4), (-0.2, 0.2)),  # neck
    15: ((-0.3, 0.4), (-0.5, 0.5), (-0.2, 0.2)),  # head
    16: ((-0.6, 0.6), (-1.0, 0.6), (-1.4, 0.4)),  # left shoulder: -z lowers
    17: ((-0.6, 0.6), (-0.6, 1.0), (-0.4, 1.4)),  # right shoulder
    # elbows bend with -y (left) / +y (right); z: the carrying angle
    18: ((0., 0.), (-2.3, 0.), (-0.1, 0.1)),
    19: ((0., 0.), (0., 2.3), (-0.1, 0.1)),
    20: ((-0.5, 0.5), (-0.3, 0.3), (-0.6, 0.6)),  # wrists
    21: ((-0.5, 0.5), (-0.3, 0.3), (-0.6, 0.6)),
}
# Limb bones whose rest direction is measured: joint -> (child joint, the
# bone's direction in a T-pose). Other joints inherit their parent's
# offset (their rest shape is taken as it is).
LEFT, RIGHT, DOWN = (1., 0., 0.), (-1., 0., 0.), (0., -1., 0.)
LIMB_BONES = {
    1: (4, DOWN), 2: (5, DOWN),  # thighs
    4: (7, DOWN), 5: (8, DOWN),  # shins
    16: (18, LEFT), 17: (19, RIGHT),  # upper arms
    18: (20, LEFT), 19: (21, RIGHT),  # forearms
}
TILT_STD, MAX_TILT = 0.1, 0.3  # radians: mostly upright
# Share of a joint's range that is one standard deviation of the draw. At
# 0.25 one hip in ten flexed more than 35 degrees (kicks, which are rare in
# photos and whose depth one image hardly tells); 0.2 keeps most poses
# relaxed. The quick start's held-out MPJPE over the mean-pose baseline
# was the same either way (0.61-0.62 at 1500 steps).
SPREAD = 0.2
TO_CAMERA = (np.pi, 0., 0.)  # body frame (y up) -> camera frame (y down)


def _rotvec(matrix: np.ndarray) -> np.ndarray:
    """(3, 3) -> (3,) axis-angle."""
    return roma.rotmat_to_rotvec(torch.as_tensor(matrix)).numpy()


def _rotmat(rotvec) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3)."""
    return roma.rotvec_to_rotmat(torch.as_tensor(
        np.asarray(rotvec, dtype=np.float64))).numpy()


def _align(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(3, 3) smallest rotation taking direction ``src`` to ``dst``."""
    src, dst = src / np.linalg.norm(src), dst / np.linalg.norm(dst)
    axis = np.cross(src, dst)
    sin, cos = np.linalg.norm(axis), float(src @ dst)
    if sin < 1e-12:
        if cos > 0:
            return np.eye(3)
        raise ValueError('a rest bone points opposite to its T-pose '
                         f'direction {tuple(src)}')
    return _rotmat(axis / sin * np.arctan2(sin, cos))


def measure_rest_offsets(rest_joints: np.ndarray) -> np.ndarray:
    """Accumulated T-pose -> rest rotation of each joint's frame.

    Args:
        rest_joints: (24, 3) SMPL joints of the body at rest, body frame.

    Returns:
        np.ndarray: (24, 3, 3) ``Q``; identity where no limb bone above
        the joint is rotated.
    """
    rest_joints = np.asarray(rest_joints, dtype=np.float64)
    if rest_joints.shape != (NUM_SMPL_JOINTS, 3):
        raise ValueError(f'rest_joints must be ({NUM_SMPL_JOINTS}, 3), got '
                         f'{rest_joints.shape}')
    offsets = np.tile(np.eye(3), (NUM_SMPL_JOINTS, 1, 1))
    for joint in range(1, NUM_SMPL_JOINTS):  # parents come first
        above = offsets[SMPL24_PARENTS[joint]]
        offsets[joint] = above
        if joint in LIMB_BONES:
            child, t_pose_dir = LIMB_BONES[joint]
            bone = above.T @ (rest_joints[child] - rest_joints[joint])
            offsets[joint] = above @ _align(np.asarray(t_pose_dir), bone)
    return offsets


def rest_angles(offsets: np.ndarray) -> np.ndarray:
    """(24, 3) the T-pose-frame axis-angle of each joint at the body's
    rest: ``R_T(j) = Q_parent^-1 Q_j`` (zero for unmeasured joints)."""
    angles = np.zeros((NUM_SMPL_JOINTS, 3))
    for joint in range(1, NUM_SMPL_JOINTS):
        parent = offsets[SMPL24_PARENTS[joint]]
        angles[joint] = _rotvec(parent.T @ offsets[joint])
    return angles


def to_rest_frame(t_pose_angles: np.ndarray, offsets: np.ndarray
                  ) -> np.ndarray:
    """T-pose-frame joint rotations -> the body's own local rotations.

    Args:
        t_pose_angles: (24, 3) axis-angle per joint in the T-pose frame
            (row 0, the root, is passed through).
        offsets: (24, 3, 3) from :func:`measure_rest_offsets`.

    Returns:
        np.ndarray: (24, 3) SMPL axis-angle relative to the body's rest.
    """
    pose = np.array(t_pose_angles, dtype=np.float64)
    rot = _rotmat(pose[1:])
    for joint in range(1, NUM_SMPL_JOINTS):
        parent = offsets[SMPL24_PARENTS[joint]]
        pose[joint] = _rotvec(parent @ rot[joint - 1] @ offsets[joint].T)
    return pose


def joint_limits(joint: int) -> np.ndarray:
    """(3, 2) T-pose-frame (low, high) per axis-angle component."""
    return np.asarray(JOINT_LIMITS.get(joint, SMALL), dtype=np.float64)


def root_rotation(rng: np.random.Generator,
                  max_heading_deg: float) -> np.ndarray:
    """(3,) axis-angle: upright up to a small tilt, heading within
    +-``max_heading_deg`` of facing the camera, in the camera frame."""
    tilt = np.clip(rng.normal(0., TILT_STD, 2), -MAX_TILT, MAX_TILT)
    heading = _rotmat([tilt[0], np.deg2rad(max_heading_deg) *
                       rng.uniform(-1, 1), tilt[1]])
    return _rotvec(_rotmat(TO_CAMERA) @ heading)


def random_pose(rng: np.random.Generator, offsets: np.ndarray,
                max_heading_deg: float = 180.) -> np.ndarray:
    """A random plausible pose of a body with the given rest offsets.

    Each joint is drawn in the T-pose frame from a normal centred on the
    body's rest (or the nearest limit), :data:`SPREAD` of its range wide,
    clipped to :data:`JOINT_LIMITS` (:data:`SMALL` for the others), then
    turned into the body's rest frame.

    Args:
        rng: Random generator.
        offsets: (24, 3, 3) from :func:`measure_rest_offsets`.
        max_heading_deg: People turn at most this far from facing the
            camera.

    Returns:
        np.ndarray: (72,) float32 SMPL axis-angle (root in the camera
        frame).
    """
    centres = rest_angles(offsets)
    t_pose = np.zeros((NUM_SMPL_JOINTS, 3))
    for joint in range(1, NUM_SMPL_JOINTS):
        lo, hi = joint_limits(joint).T
        centre = np.clip(centres[joint], lo, hi)
        t_pose[joint] = np.clip(rng.normal(centre, (hi - lo) * SPREAD), lo,
                                hi)
    pose = to_rest_frame(t_pose, offsets)
    pose[0] = root_rotation(rng, max_heading_deg)
    return pose.reshape(-1).astype(np.float32)


def hinge_angles(joints: np.ndarray,
                 hinges: Sequence[int] = (4, 5, 18, 19)
                 ) -> Dict[int, float]:
    """Bend of each hinge joint in radians (0 = straight limb), from
    (24, 3) posed joints: the angle between the bone into the joint and
    the bone out of it."""
    bends = {}
    for joint in hinges:
        child = LIMB_BONES[joint][0]
        into = joints[joint] - joints[SMPL24_PARENTS[joint]]
        out = joints[child] - joints[joint]
        cos = into @ out / (np.linalg.norm(into) * np.linalg.norm(out))
        bends[joint] = float(np.arccos(np.clip(cos, -1., 1.)))
    return bends
