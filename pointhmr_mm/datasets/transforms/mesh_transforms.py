"""Augmentation and cropping for mesh recovery, keeping image, 2D/3D
keypoints and SMPL pose consistent.

Frames: image pixels x right, y down; 3D camera frame x right, y down,
z forward. A positive rotation turns the image content counter-clockwise on
screen (OpenCV's ``getRotationMatrix2D`` convention), and the 3D labels
turn about the camera z axis by the same 2D rotation.
"""
from typing import Optional

import cv2
import numpy as np
import roma
import torch
from mmcv.transforms import BaseTransform

from pointhmr_mm.registry import TRANSFORMS
from pointhmr_mm.utils.keypoints import LSP14_FLIP_PERM, SMPL24_FLIP_PERM


@TRANSFORMS.register_module()
class MeshRandomAugParams(BaseTransform):
    """Sample the released augmentation (POINTHMR.md §3).

    Sets ``flip`` (bool), ``rotation`` (deg), ``scale`` and
    ``noise_factors`` (3,). With ``test_mode`` nothing is sampled.

    Args:
        flip_prob: Horizontal flip probability.
        noise: Pixel-noise factor range per channel.
        rot_std: Std of the rotation (deg); clipped to ``rot_max``.
        rot_zero_prob: Probability of no rotation.
        scale_std: Std of the scale around 1, clipped to ``scale_range``.
        test_mode: Identity parameters.
    """

    def __init__(self, flip_prob=0.5, noise=(0.6, 1.4), rot_std=30.,
                 rot_max=60., rot_zero_prob=0.6, scale_std=0.25,
                 scale_range=(0.75, 1.25), test_mode=False):
        self.flip_prob, self.noise = flip_prob, noise
        self.rot_std, self.rot_max = rot_std, rot_max
        self.rot_zero_prob = rot_zero_prob
        self.scale_std, self.scale_range = scale_std, scale_range
        self.test_mode = test_mode

    def transform(self, results: dict) -> dict:
        if self.test_mode:
            results.update(flip=False, rotation=0., scale=1.,
                           noise_factors=np.ones(3))
            return results
        rotation = 0.
        if np.random.rand() >= self.rot_zero_prob:
            rotation = float(np.clip(np.random.randn() * self.rot_std,
                                     -self.rot_max, self.rot_max))
        results.update(
            flip=bool(np.random.rand() < self.flip_prob),
            rotation=rotation,
            scale=float(np.clip(1 + np.random.randn() * self.scale_std,
                                *self.scale_range)),
            noise_factors=np.random.uniform(*self.noise, size=3))
        return results


def rotate_labels(results: dict, rotation_deg: float) -> None:
    """Turn 3D keypoints and the SMPL root about the camera z axis so that
    their projections follow the image's rotation."""
    a = np.deg2rad(rotation_deg)
    rot = np.array([[np.cos(a), np.sin(a), 0.], [-np.sin(a), np.cos(a), 0.],
                    [0., 0., 1.]])
    if 'keypoints_3d' in results:
        kp = np.array(results['keypoints_3d'], dtype=np.float32)
        kp[:, :3] = kp[:, :3] @ rot.T
        results['keypoints_3d'] = kp
    if 'smpl_pose' in results:
        pose = np.array(results['smpl_pose'], dtype=np.float32)
        root = roma.rotvec_to_rotmat(torch.from_numpy(pose[:3]).double())
        root = torch.from_numpy(rot) @ root
        pose[:3] = roma.rotmat_to_rotvec(root).numpy()
        results['smpl_pose'] = pose


@TRANSFORMS.register_module()
class MeshAffineCrop(BaseTransform):
    """Crop a square around ``bbox_center`` (side ``bbox_size * scale``),
    rotated by ``rotation``, to ``crop_size`` pixels.

    Sets ``img``, ``img_shape``, ``crop_matrix`` (2 x 3, original pixels ->
    crop pixels) and ``keypoints_2d`` in [-1, 1] of the crop; rotates the
    3D labels to match.
    """

    def __init__(self, crop_size: int = 224):
        self.crop_size = crop_size

    def transform(self, results: dict) -> dict:
        for key in ('bbox_center', 'bbox_size'):
            if key not in results:
                raise KeyError(f'MeshAffineCrop needs "{key}" (sample '
                               f'{results.get("sample_idx")})')
        center = np.asarray(results['bbox_center'], dtype=np.float64)
        side = float(results['bbox_size']) * results.get('scale', 1.)
        rotation = results.get('rotation', 0.)
        if side <= 0:
            raise ValueError(f'bbox_size must be positive (sample '
                             f'{results.get("sample_idx")})')
        matrix = cv2.getRotationMatrix2D(tuple(center), rotation,
                                         self.crop_size / side)
        matrix[:, 2] += self.crop_size / 2. - center
        results['img'] = cv2.warpAffine(
            results['img'], matrix, (self.crop_size, self.crop_size),
            flags=cv2.INTER_LINEAR)
        results['img_shape'] = (self.crop_size, self.crop_size)
        results['crop_matrix'] = matrix.astype(np.float32)
        if 'keypoints_2d' in results:
            kp = np.array(results['keypoints_2d'], dtype=np.float32)
            kp[:, :2] = kp[:, :2] @ matrix[:, :2].T + matrix[:, 2]
            kp[:, :2] = 2. * kp[:, :2] / self.crop_size - 1.
            results['keypoints_2d'] = kp
        rotate_labels(results, rotation)
        results['rotation'] = rotation
        return results


def flip_smpl_pose(pose: np.ndarray) -> np.ndarray:
    """Mirror a (72,) SMPL pose: swap left/right joints and negate the y
    and z components of each axis-angle."""
    pose = np.asarray(pose, dtype=np.float32).reshape(24, 3)
    pose = pose[list(SMPL24_FLIP_PERM)].copy()
    pose[:, 1:] *= -1.
    return pose.reshape(72)


@TRANSFORMS.register_module()
class MeshRandomFlip(BaseTransform):
    """Apply ``results['flip']`` to the crop: image, normalised 2D
    keypoints, 3D keypoints, SMPL pose and ``crop_matrix``. Must follow
    :class:`MeshAffineCrop`."""

    def transform(self, results: dict) -> dict:
        if not results.get('flip', False):
            return results
        results['img'] = np.ascontiguousarray(results['img'][:, ::-1])
        width = results['img'].shape[1]
        if 'crop_matrix' in results:
            mirror = np.array([[-1., 0., width], [0., 1., 0.], [0., 0., 1.]])
            full = np.vstack([results['crop_matrix'], [0., 0., 1.]])
            results['crop_matrix'] = (mirror @ full)[:2].astype(np.float32)
        perm = list(LSP14_FLIP_PERM)
        for key in ('keypoints_2d', 'keypoints_3d'):
            if key in results:
                kp = np.array(results[key], dtype=np.float32)[perm]
                kp[:, 0] *= -1.
                results[key] = kp
        if 'smpl_pose' in results:
            results['smpl_pose'] = flip_smpl_pose(results['smpl_pose'])
        return results


@TRANSFORMS.register_module()
class MeshPixelNoise(BaseTransform):
    """Scale each channel by ``results['noise_factors']`` and clip."""

    def transform(self, results: dict) -> dict:
        factors = results.get('noise_factors')
        if factors is None:
            return results
        img = results['img'].astype(np.float32) * np.asarray(
            factors, dtype=np.float32)
        results['img'] = np.clip(img, 0, 255).astype(np.uint8)
        return results
