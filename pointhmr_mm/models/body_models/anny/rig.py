"""Anny's 104-bone rig seen as SMPL's 24 joints, and the frame change.

Each SMPL joint is a rigid group of Anny bones (the grouping below); its
skinning weight is the sum of its bones' weights and its pivot the head of
the group's top bone (the mean of the heads where several bones of the
group hang from the parent group, as the toes and fingers do).

Frames: Anny has z up, -y forward and x the body's left; SMPL has y up, z
forward and x the body's left. ``p_smpl = C p_anny + ROOT_POSITION`` with
:data:`AXIS_SWAP` ``C``, so an SMPL rotation ``R`` is ``C^T R C`` in Anny's
axes and an axis-angle ``theta`` is ``C^T theta``.

Shape shorthand: B batch, K Anny bones (104), V vertices, I influences per
vertex (9 in Anny).
"""
import re
from typing import List, Sequence

import numpy as np
import roma
import torch
from torch import Tensor

from pointhmr_mm.utils.constants import NUM_SMPL_JOINTS
from pointhmr_mm.utils.keypoints import SMPL24_NAMES, SMPL24_PARENTS

# Anny -> SMPL axes: x stays (the body's left), Anny's z (up) becomes y,
# Anny's -y (forward) becomes z.
AXIS_SWAP = np.array([[1., 0., 0.], [0., 0., 1.], [0., -1., 0.]])
# Where Anny's root (its pelvis, at Anny's origin in the reference pose)
# goes in the SMPL frame: slightly below the origin, as in SMPL, which puts
# an adult's soles near y = -1.2.
ROOT_POSITION = np.array([0., -0.16, 0.])

_SIDED = {  # SMPL joint name without side -> Anny bone-name pattern
    'hip': r'upperleg0[12]', 'knee': r'lowerleg0[12]', 'ankle': r'foot',
    'foot': r'toe\d-\d', 'collar': r'(clavicle|shoulder01)',
    'shoulder': r'upperarm0[12]', 'elbow': r'lowerarm0[12]',
    'wrist': r'(wrist|metacarpal\d)', 'hand': r'finger\d-\d'}
_CENTRAL = {
    'pelvis': r'(root|pelvis\.[LR]|spine0[54])', 'spine1': r'spine03',
    'spine2': r'spine02', 'spine3': r'spine01', 'neck': r'neck0[123]',
    'head': r'(head|eye\.[LR])'}


def _joint_pattern(joint: str) -> str:
    side, _, part = joint.partition('_')
    if part in _SIDED and side in ('left', 'right'):
        return _SIDED[part] + (r'\.L' if side == 'left' else r'\.R')
    return _CENTRAL[joint]


def bone_groups(bone_labels: Sequence[str],
                bone_parents: Sequence[int]) -> np.ndarray:
    """(K,) SMPL joint index of each Anny bone.

    Raises:
        ValueError: A bone matches no joint, or the grouping does not
            follow SMPL's kinematic tree (a group's parent group must be
            the SMPL parent).
    """
    patterns = [re.compile(_joint_pattern(name) + '$') for name in
                SMPL24_NAMES]
    groups = np.full(len(bone_labels), -1)
    for k, label in enumerate(bone_labels):
        hits = [j for j, p in enumerate(patterns) if p.match(label)]
        if len(hits) != 1:
            raise ValueError(f'Anny bone "{label}" matches {len(hits)} SMPL '
                             'joints, expected exactly one')
        groups[k] = hits[0]
    for k, parent in enumerate(bone_parents):
        if parent >= 0 and groups[parent] != groups[k] and \
                SMPL24_PARENTS[groups[k]] != groups[parent]:
            raise ValueError(
                f'Anny bone "{bone_labels[k]}" ({SMPL24_NAMES[groups[k]]}) '
                f'hangs from "{bone_labels[parent]}" '
                f'({SMPL24_NAMES[groups[parent]]}), which is not its SMPL '
                'parent')
    missing = sorted(set(range(NUM_SMPL_JOINTS)) - set(groups.tolist()))
    if missing:
        raise ValueError('no Anny bone for SMPL joints '
                         f'{[SMPL24_NAMES[j] for j in missing]}')
    return groups


def top_bones(groups: np.ndarray, bone_parents: Sequence[int]) -> List[
        np.ndarray]:
    """Per SMPL joint, its bones whose parent is in another group (the
    bones its rotation is applied to)."""
    tops = [[] for _ in range(NUM_SMPL_JOINTS)]
    for k, parent in enumerate(bone_parents):
        if parent < 0 or groups[parent] != groups[k]:
            tops[groups[k]].append(k)
    return [np.asarray(t) for t in tops]


def group_pivots(bone_heads: np.ndarray, tops: List[np.ndarray]) -> np.ndarray:
    """(..., K, 3) bone heads -> (..., 24, 3) joint pivots."""
    return np.stack([bone_heads[..., t, :].mean(-2) for t in tops], -2)


def group_skinning_weights(bone_weights: np.ndarray, bone_indices: np.ndarray,
                           groups: np.ndarray) -> np.ndarray:
    """(V, I) Anny weights and bone indices -> (V, 24) weights, rows
    summing to one."""
    weights = np.zeros((len(bone_weights), NUM_SMPL_JOINTS))
    rows = np.repeat(np.arange(len(bone_weights)), bone_weights.shape[1])
    np.add.at(weights, (rows, groups[bone_indices.ravel()]),
              bone_weights.ravel())
    return weights / weights.sum(1, keepdims=True)


def to_smpl_frame(points: np.ndarray) -> np.ndarray:
    """(..., 3) points in Anny's frame -> SMPL's frame (metres)."""
    return points @ AXIS_SWAP.T + ROOT_POSITION


def smpl_pose_to_anny(pose: Tensor, tops: List[np.ndarray],
                      num_bones: int) -> Tensor:
    """SMPL axis-angle pose -> Anny ``local-ref`` delta transforms.

    The baked body's rest is Anny's reference pose and SMPL's joint
    rotations are, like ``local-ref`` deltas, relative to the parent in
    world-aligned axes, so joint ``j``'s rotation ``R_j`` becomes
    ``C^T R_j C`` on each top bone of its group (the root's included, which
    turns the body about Anny's origin, the baked pelvis pivot); the other
    bones keep the identity.

    Args:
        pose: (B, 72) axis-angle, SMPL order, SMPL axes.
        tops: :func:`top_bones` of the rig.
        num_bones: K.

    Returns:
        Tensor: (B, K, 4, 4) homogeneous deltas, ``pose``'s dtype.
    """
    if pose.ndim != 2 or pose.shape[1] != 3 * NUM_SMPL_JOINTS:
        raise ValueError(f'pose must be (B, {3 * NUM_SMPL_JOINTS}), got '
                         f'{tuple(pose.shape)}')
    swap = torch.as_tensor(AXIS_SWAP, dtype=pose.dtype, device=pose.device)
    # (B, 24, 3) rotvecs in SMPL axes -> (B, 24, 3, 3) in Anny axes
    rotations = roma.rotvec_to_rotmat(pose.reshape(-1, NUM_SMPL_JOINTS, 3))
    rotations = swap.T @ rotations @ swap
    deltas = torch.eye(4, dtype=pose.dtype, device=pose.device).repeat(
        len(pose), num_bones, 1, 1)
    for joint, bones in enumerate(tops):
        deltas[:, bones, :3, :3] = rotations[:, joint, None]
    return deltas
