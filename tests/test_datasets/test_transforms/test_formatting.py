import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.structures import BaseDataElement

from pointhmr_mm.datasets.transforms import PackMeshInputs
from pointhmr_mm.registry import TRANSFORMS

CONVENTION_META = ('img_path', 'ori_shape', 'img_shape', 'bbox_center',
                   'bbox_size', 'rotation', 'flip', 'crop_matrix', 'gender',
                   'dataset_name', 'eval_protocol', 'sample_idx')


def full_sample(seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        img=rng.integers(0, 255, (8, 6, 3), dtype=np.uint8),
        img_path='a.jpg', ori_shape=(20, 30), img_shape=(8, 6),
        bbox_center=np.array([10., 12.]), bbox_size=9., rotation=12.,
        flip=True, crop_matrix=np.eye(2, 3, dtype=np.float32),
        gender='female', dataset_name='h36m', eval_protocol='h36m_p2',
        sample_idx=5, keypoints_2d=rng.normal(size=(14, 3)),
        keypoints_3d=rng.normal(size=(14, 4)),
        smpl_pose=rng.normal(size=72), smpl_betas=rng.normal(size=10),
        has_smpl=1., scale=1.1, noise_factors=np.ones(3))


def test_builds_and_packs_every_field():
    sample = full_sample()
    packed = TRANSFORMS.build(dict(type='PackMeshInputs'))(dict(sample))
    assert set(packed) == {'inputs', 'data_samples'}
    inputs, data = packed['inputs'], packed['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 8, 6)
    # HWC -> CHW, channels kept in BGR order
    torch.testing.assert_close(inputs, torch.from_numpy(
        sample['img']).permute(2, 0, 1))
    assert isinstance(data, BaseDataElement)
    for field, key, shape in (('gt_keypoints_2d', 'keypoints_2d', (14, 3)),
                              ('gt_keypoints_3d', 'keypoints_3d', (14, 4)),
                              ('gt_pose', 'smpl_pose', (72, )),
                              ('gt_betas', 'smpl_betas', (10, ))):
        value = data.get(field)
        assert value.dtype == torch.float32 and value.shape == shape
        np.testing.assert_allclose(value.numpy(), sample[key], rtol=1e-6)
    assert data.has_smpl.shape == () and data.has_smpl.item() == 1.
    assert set(data.metainfo_keys()) == set(CONVENTION_META)
    assert data.sample_idx == 5 and data.flip is True
    assert 'scale' not in data.metainfo_keys()


def test_missing_labels_become_zeros_with_zero_flags():
    packed = PackMeshInputs()(dict(img=np.zeros((4, 4, 3), np.uint8),
                                   img_path='plain.jpg', sample_idx=0))
    data = packed['data_samples']
    assert data.gt_keypoints_2d.shape == (14, 3)
    assert data.gt_keypoints_3d.shape == (14, 4)
    assert not data.gt_keypoints_2d.any() and not data.gt_keypoints_3d.any()
    assert not data.gt_pose.any() and data.gt_betas.shape == (10, )
    assert data.has_smpl.item() == 0.
    # the defaults of an unaugmented sample are still recorded
    assert data.rotation == 0. and data.flip is False


def test_plain_image_goes_through_load_crop_pack(tmp_path):
    import cv2
    path = tmp_path / 'person.png'
    cv2.imwrite(str(path), np.full((40, 30, 3), 90, np.uint8))
    pipeline = Compose([
        TRANSFORMS.build(cfg) for cfg in (
            dict(type='LoadMeshImage'),
            dict(type='MeshAffineCrop', crop_size=16),
            dict(type='PackMeshInputs'))
    ])
    packed = pipeline(dict(img_path=str(path), bbox_center=np.array(
        [15., 20.]), bbox_size=30., sample_idx=0))
    data = packed['data_samples']
    assert packed['inputs'].shape == (3, 16, 16)
    assert data.ori_shape == (40, 30) and data.img_shape == (16, 16)
    assert data.crop_matrix.shape == (2, 3) and data.has_smpl.item() == 0.


@pytest.mark.parametrize('change,error', [
    (dict(keypoints_2d=np.zeros((17, 3))), 'keypoints_2d'),
    (dict(smpl_betas=np.zeros(16)), 'smpl_betas'),
    (dict(has_smpl=0.5), 'has_smpl'),
    (dict(img=np.zeros((8, 6, 3), np.float64)), 'uint8'),
])
def test_bad_samples_are_refused_naming_the_key(change, error):
    sample = full_sample()
    sample.update(change)
    with pytest.raises(ValueError, match=error):
        PackMeshInputs()(sample)


def test_smpl_flag_without_pose_and_bad_arguments():
    sample = full_sample()
    del sample['smpl_pose']
    with pytest.raises(KeyError, match='smpl_pose.*sample 5'):
        PackMeshInputs()(sample)
    with pytest.raises(KeyError, match='img'):
        PackMeshInputs()(dict(sample_idx=1))
    with pytest.raises(TypeError, match='meta_keys'):
        PackMeshInputs(meta_keys='img_path')
    narrow = PackMeshInputs(meta_keys=('img_path', ))(full_sample())
    assert narrow['data_samples'].metainfo_keys() == ['img_path']
