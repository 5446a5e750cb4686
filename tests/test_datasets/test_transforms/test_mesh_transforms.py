import numpy as np
import pytest
import torch

from pointhmr_mm.datasets.transforms import (MeshAffineCrop, MeshPixelNoise,
                                             MeshRandomAugParams,
                                             MeshRandomFlip,
                                             camera_z_rotation,
                                             flip_keypoints, flip_smpl_pose)
from pointhmr_mm.registry import TRANSFORMS
from pointhmr_mm.utils.geometry import axis_angle_to_matrix
from pointhmr_mm.utils.keypoints import SMPL24_FLIP_PERM

CENTER, FOCAL, BOX = np.array([120., 90.]), 100., 160.
MIRROR = np.array([-1., 1., 1.])


def labelled_sample(rotation=0., flip=False, seed=0):
    """2D keypoints that are an orthographic projection (about the box
    centre, ``FOCAL`` px per metre) of the 3D ones."""
    rng = np.random.default_rng(seed)
    kp3d = np.concatenate([rng.normal(size=(14, 3)) * 0.3,
                           np.ones((14, 1))], 1).astype(np.float32)
    kp2d = np.concatenate([CENTER + FOCAL * kp3d[:, :2], np.ones((14, 1))],
                          1).astype(np.float32)
    return dict(img=rng.integers(0, 255, (200, 240, 3), dtype=np.uint8),
                bbox_center=CENTER.copy(), bbox_size=BOX, rotation=rotation,
                flip=flip, scale=1., keypoints_2d=kp2d, keypoints_3d=kp3d,
                smpl_pose=rng.normal(size=72).astype(np.float32) * 0.3,
                smpl_betas=np.zeros(10, np.float32), has_smpl=1.,
                sample_idx=3, img_path='a.jpg')


def to_crop_px(matrix, xy):
    return xy @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


@pytest.mark.parametrize('name', ['MeshRandomAugParams', 'MeshAffineCrop',
                                  'MeshRandomFlip', 'MeshPixelNoise'])
def test_build_from_registry(name):
    assert type(TRANSFORMS.build(dict(type=name))).__name__ == name


@pytest.mark.parametrize('kwargs', [
    dict(flip_prob=1.5), dict(rot_zero_prob=-0.1), dict(rot_std=-1.),
    dict(noise_range=(1.4, 0.6)), dict(scale_range=(0., 1.)),
    dict(scale_range=(1.,))
])
def test_aug_params_refuse_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        MeshRandomAugParams(**kwargs)


def test_aug_params_follow_the_recipe_and_are_reproducible():
    np.random.seed(0)
    params = [MeshRandomAugParams()(dict()) for _ in range(400)]
    rots = np.array([p['rotation'] for p in params])
    scales = np.array([p['scale'] for p in params])
    noise = np.stack([p['noise_factors'] for p in params])
    flips = np.array([p['flip'] for p in params])
    assert 0.5 < (rots == 0).mean() < 0.7  # p = 0.6
    assert np.abs(rots).max() <= 60 and (np.abs(rots) == 60).any()
    assert scales.min() >= 0.75 and scales.max() <= 1.25
    assert noise.shape == (400, 3) and 0.6 <= noise.min() < noise.max() <= 1.4
    assert 0.4 < flips.mean() < 0.6
    np.random.seed(0)
    again = MeshRandomAugParams()(dict())
    assert again['rotation'] == params[0]['rotation']
    test = MeshRandomAugParams(test_mode=True)(dict())
    assert (test['rotation'], test['flip'], test['scale']) == (0., False, 1.)
    np.testing.assert_array_equal(test['noise_factors'], 1.)


@pytest.mark.parametrize('rotation', [0., 35., -50.])
def test_crop_keeps_2d_and_3d_consistent(rotation):
    sample = labelled_sample(rotation)
    arrays = {k: v for k, v in sample.items() if isinstance(v, np.ndarray)}
    copies = {k: v.copy() for k, v in arrays.items()}
    out = MeshAffineCrop(224)(sample)
    assert out['img'].shape == (224, 224, 3)
    assert out['img_shape'] == (224, 224)
    # the box (160 px) fills the crop (224 px): x_norm = 2 * 100 * 1.4 / 224
    # * X, whatever the rotation, because the 3D turned with the image
    np.testing.assert_allclose(out['keypoints_2d'][:, :2],
                               1.25 * out['keypoints_3d'][:, :2], atol=1e-5)
    np.testing.assert_allclose(to_crop_px(out['crop_matrix'], CENTER),
                               [112., 112.], atol=1e-4)
    for key, array in arrays.items():  # the dataset's arrays untouched
        np.testing.assert_array_equal(array, copies[key])


def test_crop_warps_the_image_like_the_keypoints():
    sample = labelled_sample(25.)
    sample['img'] = np.zeros((200, 240, 3), np.uint8)
    x, y = sample['keypoints_2d'][0, :2].round().astype(int)
    sample['img'][y - 2:y + 3, x - 2:x + 3] = 255
    sample['keypoints_2d'][0, :2] = (x, y)
    out = MeshAffineCrop(64)(sample)
    px = (out['keypoints_2d'][0, :2] + 1) * 64 / 2
    row, col = np.unravel_index(out['img'][..., 0].argmax(), (64, 64))
    assert abs(col - px[0]) <= 1 and abs(row - px[1]) <= 1


def test_positive_rotation_is_counter_clockwise_on_screen():
    sample = dict(img=np.zeros((50, 50, 3), np.uint8),
                  bbox_center=np.array([25., 25.]), bbox_size=50.,
                  rotation=90., keypoints_2d=np.array([[35., 25., 1.]] * 14))
    out = MeshAffineCrop(50)(sample)
    # right of the centre -> above it (y down)
    np.testing.assert_allclose(out['keypoints_2d'][0, :2], [0., -0.4],
                               atol=1e-6)
    np.testing.assert_allclose(camera_z_rotation(90.) @ [1., 0., 0.],
                               [0., -1., 0.], atol=1e-12)


def test_crop_rotates_the_posed_body_like_its_joints(body_model_dir):
    from pointhmr_mm.models.body_models import SMPL
    body = SMPL(str(body_model_dir / 'smpl'))
    sample = labelled_sample(40.)
    out = MeshAffineCrop()(dict(sample))
    before = body(pose=torch.tensor(sample['smpl_pose'])[None])['joints'][0]
    after = body(pose=torch.tensor(out['smpl_pose'])[None])['joints'][0]
    rot = torch.tensor(camera_z_rotation(40.), dtype=torch.float32)
    # SMPL rotates about its pelvis (joint 0)
    torch.testing.assert_close(after - after[0], (before - before[0]) @ rot.T,
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize('change,error', [
    (dict(bbox_size=0.), 'positive'),
    (dict(bbox_center=np.zeros(3)), 'bbox_center'),
    (dict(keypoints_2d=np.zeros((14, 2))), 'keypoints_2d'),
    (dict(smpl_pose=np.zeros(69)), 'smpl_pose'),
    (dict(keypoints_3d=np.full((14, 4), np.nan)), 'NaN'),
])
def test_crop_refuses_bad_labels_naming_them(change, error):
    sample = labelled_sample()
    sample.update(change)
    with pytest.raises(ValueError, match=error):
        MeshAffineCrop()(sample)
    del sample['bbox_size']
    with pytest.raises(KeyError, match='bbox_size.*sample 3'):
        MeshAffineCrop()(sample)
    with pytest.raises(ValueError, match='crop_size'):
        MeshAffineCrop(0)


def test_flip_twice_is_identity_and_mirrors():
    crop = MeshAffineCrop()(labelled_sample(rotation=20., flip=True))
    once = MeshRandomFlip()(dict(crop))
    twice = MeshRandomFlip()(dict(once))
    for key in ('keypoints_2d', 'keypoints_3d', 'smpl_pose', 'img',
                'crop_matrix'):
        np.testing.assert_allclose(twice[key], crop[key], atol=1e-5)
    # the flipped left ankle (5) is the mirrored right ankle (0)
    np.testing.assert_allclose(once['keypoints_2d'][5],
                               crop['keypoints_2d'][0] * [-1, 1, 1])
    np.testing.assert_allclose(once['keypoints_3d'][5],
                               crop['keypoints_3d'][0] * [-1, 1, 1, 1])
    np.testing.assert_array_equal(once['img'], crop['img'][:, ::-1])
    # the crop matrix still maps the original labels onto the flipped crop
    orig = labelled_sample()['keypoints_2d'][:, :2]
    px = to_crop_px(once['crop_matrix'], orig)[[5, 4, 3, 2, 1, 0]]
    np.testing.assert_allclose(2 * px / 224 - 1,
                               once['keypoints_2d'][:6, :2], atol=1e-4)
    not_flipped = MeshRandomFlip()(dict(crop, flip=False))
    assert not_flipped['keypoints_2d'] is crop['keypoints_2d']


def test_flip_needs_params_and_crop():
    with pytest.raises(KeyError, match='MeshRandomAugParams'):
        MeshRandomFlip()(dict(img=np.zeros((4, 4, 3), np.uint8)))
    with pytest.raises(KeyError, match='MeshAffineCrop'):
        MeshRandomFlip()(dict(img=np.zeros((4, 4, 3), np.uint8), flip=True))
    with pytest.raises(ValueError, match='pose'):
        flip_smpl_pose(np.zeros(69))
    with pytest.raises(ValueError, match='LSP-14'):
        flip_keypoints(np.zeros((17, 3)))


def test_flipped_pose_is_the_mirror_rotation():
    pose = np.random.default_rng(1).normal(size=72).astype(np.float32)
    flipped = flip_smpl_pose(pose)
    mirror = torch.diag(torch.tensor(MIRROR, dtype=torch.float32))
    rots = axis_angle_to_matrix(torch.tensor(pose).view(24, 3))
    frots = axis_angle_to_matrix(torch.tensor(flipped).view(24, 3))
    expected = mirror @ rots[list(SMPL24_FLIP_PERM)] @ mirror
    torch.testing.assert_close(frots, expected, atol=1e-5, rtol=0)


def test_flipped_pose_mirrors_the_posed_body(body_model_dir):
    from pointhmr_mm.models.body_models import SMPL
    body = SMPL(str(body_model_dir / 'smpl'))
    perm, mirror = list(SMPL24_FLIP_PERM), torch.tensor(MIRROR).float()
    rest = body()['joints'][0]
    # the decimated body is only nearly symmetric; bound by that
    asymmetry = (rest[perm] * mirror - rest).norm(dim=-1).max().item()
    pose = np.random.default_rng(2).normal(size=72).astype(np.float32) * 0.4
    joints = body(pose=torch.tensor(pose)[None])['joints'][0]
    flipped = body(pose=torch.tensor(flip_smpl_pose(pose))[None])['joints'][0]
    error = (flipped[perm] * mirror - joints).norm(dim=-1).max().item()
    assert error <= 2 * asymmetry + 1e-4
    # a flip that only swaps sides is far off: the bound is meaningful
    swapped = pose.reshape(24, 3)[perm].reshape(72)
    wrong = body(pose=torch.tensor(swapped)[None])['joints'][0]
    assert (wrong[perm] * mirror - joints).norm(dim=-1).max() > 5 * error


def test_pixel_noise_scales_channels_and_clips():
    img = np.full((4, 4, 3), 100, np.uint8)
    sample = dict(img=img, noise_factors=np.array([0.5, 1., 3.]))
    out = MeshPixelNoise()(sample)
    assert out['img'].dtype == np.float32
    assert out['img'][0, 0].tolist() == [50, 100, 255]
    assert img[0, 0].tolist() == [100, 100, 100]  # input not overwritten
    with pytest.raises(KeyError, match='noise_factors'):
        MeshPixelNoise()(dict(img=img))
    with pytest.raises(ValueError, match='noise_factors'):
        MeshPixelNoise()(dict(img=img, noise_factors=[1., 1.]))
    with pytest.raises(ValueError, match='negative'):
        MeshPixelNoise()(dict(img=img, noise_factors=[1., -1., 1.]))


def test_pixel_noise_keeps_floats_and_its_mean_is_unbiased():
    """The released code multiplies float pixels and clips to [0, 255]
    without rounding: the mean of the noisy crop is the mean of the exact
    products (a uint8 cast would lower it by about 0.5 grey levels)."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 200, (64, 64, 3), dtype=np.uint8)
    factors = np.array([0.63, 1.07, 1.21], np.float32)
    out = MeshPixelNoise()(dict(img=img, noise_factors=factors))['img']
    exact = np.minimum(255., img.astype(np.float64) * factors)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, exact, atol=1e-4)
    bias = out.astype(np.float64).mean() - exact.mean()
    assert abs(bias) < 1e-4
    truncated = np.floor(exact).mean() - exact.mean()
    assert truncated < -0.3  # what the uint8 cast used to cost


def test_float_noisy_crop_packs_and_normalises_like_uint8():
    from mmengine.model import ImgDataPreprocessor

    from pointhmr_mm.datasets.transforms import PackMeshInputs
    img = np.random.default_rng(1).integers(0, 255, (8, 8, 3), np.uint8)
    ones = np.ones(3, np.float32)
    noisy = MeshPixelNoise()(dict(img=img, noise_factors=ones))
    packed = PackMeshInputs()(dict(noisy, sample_idx=0))
    assert packed['inputs'].dtype == torch.float32
    plain = PackMeshInputs()(dict(img=img, sample_idx=0))
    prep = ImgDataPreprocessor(mean=[120.] * 3, std=[60.] * 3,
                               bgr_to_rgb=True)
    a = prep(dict(inputs=[packed['inputs']],
                  data_samples=[packed['data_samples']]))['inputs']
    b = prep(dict(inputs=[plain['inputs']],
                  data_samples=[plain['data_samples']]))['inputs']
    torch.testing.assert_close(a, b)
