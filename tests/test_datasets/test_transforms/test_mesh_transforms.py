import cv2
import numpy as np
import pytest
import torch

from pointhmr_mm.datasets.transforms import (LoadMeshImage, MeshAffineCrop,
                                             MeshPixelNoise,
                                             MeshRandomAugParams,
                                             MeshRandomFlip, PackMeshInputs,
                                             flip_smpl_pose)
from pointhmr_mm.utils.geometry import axis_angle_to_matrix


def labelled_sample(rotation=0., flip=False, seed=0):
    """2D keypoints that are an orthographic projection of the 3D ones."""
    rng = np.random.default_rng(seed)
    kp3d = np.concatenate([rng.normal(size=(14, 3)) * 0.3,
                           np.ones((14, 1))], 1).astype(np.float32)
    center, focal = np.array([120., 90.]), 100.
    kp2d = np.concatenate([center + focal * kp3d[:, :2], np.ones((14, 1))],
                          1).astype(np.float32)
    return dict(img=rng.integers(0, 255, (200, 240, 3), dtype=np.uint8),
                bbox_center=center, bbox_size=160., rotation=rotation,
                flip=flip, scale=1., keypoints_2d=kp2d, keypoints_3d=kp3d,
                smpl_pose=rng.normal(size=72).astype(np.float32) * 0.3,
                smpl_betas=np.zeros(10, np.float32), has_smpl=1.,
                sample_idx=3)


def test_load_errors_name_file_and_sample(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.jpg.*sample 7'):
        LoadMeshImage()(dict(img_path=str(tmp_path / 'missing.jpg'),
                             sample_idx=7))
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(b'\xff\xd8 not really a jpeg')
    with pytest.raises(ValueError, match='bad.jpg'):
        LoadMeshImage()(dict(img_path=str(bad), sample_idx=1))
    ok, buf = cv2.imencode('.png', np.full((5, 6, 3), 9, np.uint8))
    out = LoadMeshImage()(dict(img_bytes=buf.tobytes(), img_path='x#0'))
    assert out['img'].shape == (5, 6, 3) and out['ori_shape'] == (5, 6)


@pytest.mark.parametrize('rotation', [0., 35., -50.])
def test_crop_keeps_2d_and_3d_consistent(rotation):
    out = MeshAffineCrop(224)(labelled_sample(rotation))
    assert out['img'].shape == (224, 224, 3)
    ratio = out['keypoints_2d'][:, :2] / out['keypoints_3d'][:, :2]
    # the crop maps 160 px to 224 px: 2 * 100 * 1.4 / 224
    np.testing.assert_allclose(ratio, 1.25, rtol=1e-4)
    # the centre lands in the middle of the crop
    centre = out['crop_matrix'] @ np.array([120., 90., 1.])
    np.testing.assert_allclose(centre, [112., 112.], atol=1e-6)


def test_crop_rotation_turns_smpl_root_like_the_joints():
    sample = labelled_sample(40.)
    root = axis_angle_to_matrix(torch.tensor(sample['smpl_pose'][:3]))
    out = MeshAffineCrop()(dict(sample))
    new_root = axis_angle_to_matrix(torch.tensor(out['smpl_pose'][:3]))
    a = np.deg2rad(40.)
    rot = torch.tensor([[np.cos(a), np.sin(a), 0], [-np.sin(a), np.cos(a), 0],
                        [0, 0, 1]], dtype=torch.float32)
    torch.testing.assert_close(new_root, rot @ root, atol=1e-5, rtol=0)


def test_flip_twice_is_identity_and_mirrors():
    crop = MeshAffineCrop()(labelled_sample(flip=True))
    once = MeshRandomFlip()(dict(crop))
    twice = MeshRandomFlip()(dict(once))
    for key in ('keypoints_2d', 'keypoints_3d', 'smpl_pose', 'img',
                'crop_matrix'):
        np.testing.assert_allclose(twice[key], crop[key], atol=1e-5)
    # left ankle after flipping is the mirrored right ankle
    assert once['keypoints_2d'][5, 0] == pytest.approx(
        -crop['keypoints_2d'][0, 0])
    np.testing.assert_array_equal(once['img'], crop['img'][:, ::-1])


def test_flipped_pose_is_the_mirror_rotation():
    pose = np.random.default_rng(1).normal(size=72).astype(np.float32)
    flipped = flip_smpl_pose(pose)
    mirror = torch.diag(torch.tensor([-1., 1., 1.]))
    rots = axis_angle_to_matrix(torch.tensor(pose).view(24, 3))
    frots = axis_angle_to_matrix(torch.tensor(flipped).view(24, 3))
    # left elbow (18) of the flip mirrors the right elbow (19)
    torch.testing.assert_close(frots[18], mirror @ rots[19] @ mirror,
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(frots[0], mirror @ rots[0] @ mirror,
                               atol=1e-5, rtol=0)


def test_noise_and_aug_params():
    img = np.full((4, 4, 3), 100, np.uint8)
    out = MeshPixelNoise()(dict(img=img, noise_factors=[0.5, 1., 3.]))
    assert out['img'][0, 0].tolist() == [50, 100, 255]
    np.random.seed(0)
    params = [MeshRandomAugParams()(dict()) for _ in range(200)]
    rots = np.array([p['rotation'] for p in params])
    assert 0.45 < (rots == 0).mean() < 0.75 and np.abs(rots).max() <= 60
    assert all(0.75 <= p['scale'] <= 1.25 for p in params)
    test = MeshRandomAugParams(test_mode=True)(dict())
    assert test['rotation'] == 0 and not test['flip'] and test['scale'] == 1


def test_pack_fills_missing_labels():
    packed = PackMeshInputs()(dict(img=np.zeros((224, 224, 3), np.uint8),
                                   img_path='a.jpg', sample_idx=0))
    assert packed['inputs'].shape == (3, 224, 224)
    s = packed['data_samples']
    assert s.gt_keypoints_3d.shape == (14, 4) and s.has_smpl.item() == 0
    assert s.img_path == 'a.jpg'
    full = PackMeshInputs()(MeshAffineCrop()(labelled_sample()))
    assert full['data_samples'].gt_pose.shape == (72, )
    assert full['data_samples'].has_smpl.item() == 1
