"""Augmentation and cropping for mesh recovery, keeping the image, the 2D
and 3D keypoints and the SMPL pose consistent.

Frames: image pixels x right, y down; 3D camera frame x right, y down,
z forward (``docs/conventions.md``).

Rotation convention (as in SPIN/METRO): a positive ``rotation`` (degrees)
turns the image content **counter-clockwise on screen** (OpenCV's
``getRotationMatrix2D``). The 3D keypoints and the SMPL root turn about the
camera z axis by the same in-plane rotation, so that the projection of the
rotated 3D labels matches the rotated 2D labels.

Order in a pipeline: ``LoadMeshImage -> MeshRandomAugParams ->
MeshAffineCrop -> MeshRandomFlip -> MeshPixelNoise -> PackMeshInputs``.
The parameters are drawn once, by :class:`MeshRandomAugParams`; the other
transforms only apply them.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform

from pointhmr_mm.registry import TRANSFORMS
from pointhmr_mm.utils.geometry import (axis_angle_to_matrix,
                                        matrix_to_axis_angle)
from pointhmr_mm.utils.constants import NUM_POSE, NUM_SMPL_JOINTS
from pointhmr_mm.utils.keypoints import (LSP14_FLIP_PERM, LSP14_NAMES,
                                         SMPL24_FLIP_PERM)

from .loading import check_image, describe_sample, get_array

NUM_JOINTS = len(LSP14_NAMES)
NUM_CHANNELS = 3
# Mirroring x negates the axis-angle's y and z components (M r for the
# pseudo-vector r, up to the determinant -1 of M = diag(-1, 1, 1)).
AXIS_ANGLE_MIRROR = np.array([1., -1., -1.], dtype=np.float32)
PIXEL_MAX = 255.


def _check_range(name: str, value: Sequence[float], low: float = 0.) -> None:
    if len(value) != 2 or not low <= value[0] <= value[1]:
        raise ValueError(f'{name} must be (min, max) with {low} <= min <= '
                         f'max, got {value}')


@TRANSFORMS.register_module()
class MeshRandomAugParams(BaseTransform):
    """Draw the released augmentation (POINTHMR.md §3) for one sample.

    Sets ``flip`` (bool), ``rotation`` (degrees, counter-clockwise on
    screen), ``scale`` (box side multiplier) and ``noise_factors`` (3,)
    float32 (one per BGR channel). Draws from numpy's global RNG, which
    mmengine seeds per worker, so runs are reproducible.

    Args:
        flip_prob: Probability of a horizontal flip.
        noise_range: Uniform range of the per-channel pixel factors.
        rot_std: Std of the rotation (degrees).
        rot_max: The rotation is clipped to [-rot_max, rot_max].
        rot_zero_prob: Probability of no rotation at all.
        scale_std: Std of the scale around 1.
        scale_range: The scale is clipped to this range.
        test_mode: Identity parameters (no augmentation).
    """

    def __init__(self,
                 flip_prob: float = 0.5,
                 noise_range: Tuple[float, float] = (0.6, 1.4),
                 rot_std: float = 30.,
                 rot_max: float = 60.,
                 rot_zero_prob: float = 0.6,
                 scale_std: float = 0.25,
                 scale_range: Tuple[float, float] = (0.75, 1.25),
                 test_mode: bool = False):
        for name, prob in (('flip_prob', flip_prob),
                           ('rot_zero_prob', rot_zero_prob)):
            if not 0. <= prob <= 1.:
                raise ValueError(f'{name} must be in [0, 1], got {prob}')
        for name, value in (('rot_std', rot_std), ('rot_max', rot_max),
                            ('scale_std', scale_std)):
            if value < 0:
                raise ValueError(f'{name} must be >= 0, got {value}')
        _check_range('noise_range', noise_range)
        _check_range('scale_range', scale_range)
        if scale_range[0] <= 0:
            raise ValueError(f'scale_range must be positive, got '
                             f'{scale_range}')
        self.flip_prob, self.noise_range = flip_prob, tuple(noise_range)
        self.rot_std, self.rot_max = rot_std, rot_max
        self.rot_zero_prob = rot_zero_prob
        self.scale_std, self.scale_range = scale_std, tuple(scale_range)
        self.test_mode = test_mode

    def transform(self, results: dict) -> dict:
        if self.test_mode:
            results.update(flip=False, rotation=0., scale=1.,
                           noise_factors=np.ones(NUM_CHANNELS, np.float32))
            return results
        rotation = 0.
        if np.random.rand() >= self.rot_zero_prob:
            rotation = float(np.clip(np.random.randn() * self.rot_std,
                                     -self.rot_max, self.rot_max))
        scale = float(np.clip(1. + np.random.randn() * self.scale_std,
                              *self.scale_range))
        results.update(
            flip=bool(np.random.rand() < self.flip_prob),
            rotation=rotation,
            scale=scale,
            noise_factors=np.random.uniform(
                *self.noise_range, size=NUM_CHANNELS).astype(np.float32))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(flip_prob={self.flip_prob}, '
                f'noise_range={self.noise_range}, rot_std={self.rot_std}, '
                f'rot_max={self.rot_max}, '
                f'rot_zero_prob={self.rot_zero_prob}, '
                f'scale_std={self.scale_std}, '
                f'scale_range={self.scale_range}, '
                f'test_mode={self.test_mode})')


def camera_z_rotation(rotation_deg: float) -> np.ndarray:
    """(3, 3) rotation about the camera z axis that matches an image
    rotation of ``rotation_deg`` (counter-clockwise on screen, y down).

    Its top-left 2x2 block is the linear part of OpenCV's
    ``getRotationMatrix2D`` at unit scale, so projections commute with it.
    """
    angle = np.deg2rad(rotation_deg)
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[cos, sin, 0.], [-sin, cos, 0.], [0., 0., 1.]])


def rotate_smpl_root(pose: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Turn the global orientation of a (72,) SMPL pose by ``rotation``
    (3, 3), applied in the camera frame: R_root' = rotation @ R_root."""
    pose = np.array(pose, dtype=np.float32)
    root = axis_angle_to_matrix(torch.from_numpy(pose[:3]).double())
    root = torch.from_numpy(rotation).double() @ root
    pose[:3] = matrix_to_axis_angle(root).numpy()
    return pose


@TRANSFORMS.register_module()
class MeshAffineCrop(BaseTransform):
    """Crop a square around ``bbox_center`` of side ``bbox_size * scale``,
    rotated by ``rotation``, to ``crop_size`` pixels.

    Reads ``img``, ``bbox_center`` (2,) px, ``bbox_size`` px and, when
    present, ``scale`` (default 1), ``rotation`` (degrees, default 0),
    ``keypoints_2d`` (J, 3) px + confidence, ``keypoints_3d`` (J, 4) and
    ``smpl_pose`` (72,). Sets ``img`` (crop_size, crop_size, 3),
    ``img_shape``, ``rotation``, ``crop_matrix`` (2, 3) float32 mapping
    original pixels to crop pixels, ``keypoints_2d`` as normalised crop
    coordinates (``2 * x / crop_size - 1``; keypoints outside the crop keep
    their value and confidence, as in METRO), and the 3D keypoints and SMPL
    root turned like the image. Input arrays are copied, never modified.

    Args:
        crop_size: Side of the output crop in pixels.
    """

    def __init__(self, crop_size: int = 224):
        if not (isinstance(crop_size, int) and crop_size > 0):
            raise ValueError(f'crop_size must be a positive int, got '
                             f'{crop_size!r}')
        self.crop_size = crop_size

    def crop_matrix(self, center: np.ndarray, side: float,
                    rotation: float) -> np.ndarray:
        """(2, 3) affine from original pixels to crop pixels: the box
        centre goes to the crop centre, ``side`` px to ``crop_size`` px."""
        matrix = cv2.getRotationMatrix2D(
            (float(center[0]), float(center[1])), rotation,
            self.crop_size / side)
        # getRotationMatrix2D keeps ``center`` fixed; move it to the middle
        matrix[:, 2] += self.crop_size / 2. - center
        return matrix

    def transform(self, results: dict) -> dict:
        owner = 'MeshAffineCrop'
        for key in ('img', 'bbox_center', 'bbox_size'):
            if key not in results:
                raise KeyError(f'{owner} needs "{key}" '
                               f'({describe_sample(results)})')
        check_image(results['img'], owner, results)
        center = get_array(results, 'bbox_center', (2, ), owner)
        side = float(results['bbox_size']) * float(results.get('scale', 1.))
        if not side > 0:
            raise ValueError(f'{owner}: bbox_size * scale must be positive, '
                             f'got {side} ({describe_sample(results)})')
        rotation = float(results.get('rotation', 0.))
        matrix = self.crop_matrix(center.astype(np.float64), side, rotation)
        results['img'] = cv2.warpAffine(
            results['img'], matrix, (self.crop_size, self.crop_size),
            flags=cv2.INTER_LINEAR)
        results['img_shape'] = (self.crop_size, self.crop_size)
        results['crop_matrix'] = matrix.astype(np.float32)
        results['rotation'] = rotation
        if 'keypoints_2d' in results:
            kp = get_array(results, 'keypoints_2d', (None, 3), owner)
            xy = kp[:, :2] @ matrix[:, :2].T + matrix[:, 2]
            kp[:, :2] = 2. * xy / self.crop_size - 1.
            results['keypoints_2d'] = kp
        rot3d = camera_z_rotation(rotation)
        if 'keypoints_3d' in results:
            kp = get_array(results, 'keypoints_3d', (None, 4), owner)
            kp[:, :3] = kp[:, :3] @ rot3d.T.astype(np.float32)
            results['keypoints_3d'] = kp
        if 'smpl_pose' in results:
            pose = get_array(results, 'smpl_pose', (NUM_POSE, ), owner)
            results['smpl_pose'] = rotate_smpl_root(pose, rot3d)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(crop_size={self.crop_size})'


def flip_smpl_pose(pose: np.ndarray) -> np.ndarray:
    """Mirror a SMPL pose left to right.

    Args:
        pose: (72,) axis-angle, global orientation then 23 joints.

    Returns:
        np.ndarray: (72,) float32; left/right joints swapped and each
        axis-angle mirrored (y and z negated), i.e. R' = M R M with
        M = diag(-1, 1, 1).
    """
    pose = np.asarray(pose, dtype=np.float32)
    if pose.shape != (NUM_POSE, ):
        raise ValueError(f'pose must be ({NUM_POSE},), got {pose.shape}')
    pose = pose.reshape(NUM_SMPL_JOINTS, 3)[list(SMPL24_FLIP_PERM)]
    return (pose * AXIS_ANGLE_MIRROR).reshape(NUM_POSE)


def flip_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """Mirror LSP-14 keypoints about x = 0.

    Args:
        keypoints: (14, C) with x first (normalised 2D or camera-frame 3D),
            any trailing confidence.

    Returns:
        np.ndarray: (14, C) float32, left/right swapped and x negated.
    """
    keypoints = np.array(keypoints, dtype=np.float32)
    if keypoints.ndim != 2 or len(keypoints) != NUM_JOINTS:
        raise ValueError(f'keypoints must be ({NUM_JOINTS}, C) in LSP-14 '
                         f'order, got {keypoints.shape}')
    keypoints = keypoints[list(LSP14_FLIP_PERM)]
    keypoints[:, 0] *= -1.
    return keypoints


@TRANSFORMS.register_module()
class MeshRandomFlip(BaseTransform):
    """Apply ``results['flip']`` (drawn by :class:`MeshRandomAugParams`) to
    the crop: image, normalised 2D keypoints, 3D keypoints, SMPL pose and
    ``crop_matrix``. Must follow :class:`MeshAffineCrop`, since the 2D
    keypoints are mirrored about the crop's centre (``x_norm -> -x_norm``).
    """

    def transform(self, results: dict) -> dict:
        if 'flip' not in results:
            raise KeyError('MeshRandomFlip needs "flip"; put '
                           'MeshRandomAugParams before it '
                           f'({describe_sample(results)})')
        if not results['flip']:
            return results
        if 'crop_matrix' not in results:
            raise KeyError('MeshRandomFlip must follow MeshAffineCrop (no '
                           f'"crop_matrix" in {describe_sample(results)})')
        results['img'] = np.ascontiguousarray(results['img'][:, ::-1])
        width = results['img'].shape[1]
        # x_px -> width - x_px is x_norm -> -x_norm; the crop matrix
        # follows the keypoints so that it still maps labels to the crop
        mirror = np.array([[-1., 0., width], [0., 1., 0.], [0., 0., 1.]])
        full = np.vstack([results['crop_matrix'], [0., 0., 1.]])
        results['crop_matrix'] = (mirror @ full)[:2].astype(np.float32)
        for key in ('keypoints_2d', 'keypoints_3d'):
            if key in results:
                results[key] = flip_keypoints(results[key])
        if 'smpl_pose' in results:
            results['smpl_pose'] = flip_smpl_pose(results['smpl_pose'])
        return results


@TRANSFORMS.register_module()
class MeshPixelNoise(BaseTransform):
    """Multiply each channel by ``results['noise_factors']`` (3,), drawn by
    :class:`MeshRandomAugParams`, and clip to [0, 255].

    The result stays float32 (H, W, 3) in [0, 255], as in the released
    ``rgb_processing`` (``np.minimum(255, np.maximum(0, rgb * pn))`` on
    floats, divided by 255 later): rounding down to uint8 would shift the
    mean by -0.5 grey levels. ``PackMeshInputs`` packs float32 crops as
    they are and the data preprocessor normalises them like uint8 ones.
    """

    def transform(self, results: dict) -> dict:
        if 'noise_factors' not in results:
            raise KeyError('MeshPixelNoise needs "noise_factors"; put '
                           'MeshRandomAugParams before it '
                           f'({describe_sample(results)})')
        factors = get_array(results, 'noise_factors', (NUM_CHANNELS, ),
                            'MeshPixelNoise')
        if (factors < 0).any():
            raise ValueError(f'MeshPixelNoise: negative noise_factors '
                             f'{factors} ({describe_sample(results)})')
        check_image(results['img'], 'MeshPixelNoise', results)
        img = results['img'].astype(np.float32) * factors
        results['img'] = np.clip(img, 0., PIXEL_MAX)
        return results
