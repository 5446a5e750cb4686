import numpy as np
import pytest

from pointhmr_mm.datasets import HumanDataDataset
from pointhmr_mm.datasets.conventions import (HUMAN_DATA_INDEX,
                                              HUMAN_DATA_NUM_KEYPOINTS)
from pointhmr_mm.utils import register_all_modules

register_all_modules()
PIPELINE = [dict(type='LoadMeshImage'),
            dict(type='MeshRandomAugParams', test_mode=True),
            dict(type='MeshAffineCrop'), dict(type='PackMeshInputs')]


def write_human_data(path, count=3, compressed=False, **overrides):
    rng = np.random.default_rng(0)
    kp2d = np.zeros((count, HUMAN_DATA_NUM_KEYPOINTS, 3), np.float32)
    kp2d[:, HUMAN_DATA_INDEX['right_ankle']] = [10., 20., 1.]
    kp2d[:, HUMAN_DATA_INDEX['neck_extra']] = [30., 40., 1.]  # fallback
    mask = (kp2d[0, :, 2] > 0).astype(np.uint8)
    data = dict(
        image_path=np.array([f'img_{i}.jpg' for i in range(count)]),
        bbox_xywh=np.tile([0., 0., 50., 100., 1.], (count, 1)),
        keypoints2d=kp2d[:, mask > 0] if compressed else kp2d,
        keypoints2d_mask=mask,
        smpl=dict(body_pose=rng.normal(size=(count, 23, 3)),
                  global_orient=rng.normal(size=(count, 3)),
                  betas=rng.normal(size=(count, 10))),
        meta=dict(gender=['m', 'f', 'm'][:count]))
    data.update(overrides)
    np.savez(path, **data)
    return path


@pytest.mark.parametrize('compressed', [False, True])
def test_reads_keypoints_bbox_and_smpl(tmp_path, compressed):
    ds = HumanDataDataset(str(write_human_data(tmp_path / 'hd.npz',
                                               compressed=compressed)),
                          data_prefix=dict(img=str(tmp_path)), pipeline=[])
    info = ds.get_data_info(1)
    assert info['keypoints_2d'][0].tolist() == [10., 20., 1.]
    assert info['keypoints_2d'][12].tolist() == [30., 40., 1.]
    assert info['keypoints_2d'][1, 2] == 0  # unlabelled
    assert info['bbox_center'].tolist() == [25., 50.]
    assert info['bbox_size'] == pytest.approx(120.)
    assert info['smpl_pose'].shape == (72, ) and info['has_smpl'] == 1
    assert info['gender'] == 'female' and info['img_path'].endswith(
        'img_1.jpg')


def test_bad_files_are_named(tmp_path):
    np.savez(tmp_path / 'nokey.npz', image_path=np.array(['a.jpg']))
    with pytest.raises(KeyError, match="nokey.npz has no key 'bbox_xywh'"):
        HumanDataDataset(str(tmp_path / 'nokey.npz'), pipeline=[])
    bad = np.zeros((3, 17, 3), np.float32)
    write_human_data(tmp_path / 'joints.npz', keypoints2d=bad,
                     keypoints2d_mask=np.ones(190))
    with pytest.raises(ValueError, match="joints.npz: key 'keypoints2d'"):
        HumanDataDataset(str(tmp_path / 'joints.npz'), pipeline=[])
    nan = np.tile([0., 0., 50., 100., 1.], (3, 1))
    nan[2, 1] = np.nan
    write_human_data(tmp_path / 'nan.npz', bbox_xywh=nan)
    with pytest.raises(ValueError, match="nan.npz: key 'bbox_xywh' has "
                       'NaN/inf at sample 2'):
        HumanDataDataset(str(tmp_path / 'nan.npz'), pipeline=[])


def test_missing_image_policy(tmp_path):
    path = write_human_data(tmp_path / 'hd.npz')
    strict = HumanDataDataset(str(path), data_prefix=dict(img=str(tmp_path)),
                              pipeline=PIPELINE, test_mode=True)
    with pytest.raises(RuntimeError, match='sample 0.*img_0.jpg'):
        strict[0]
    import cv2
    cv2.imwrite(str(tmp_path / 'img_1.jpg'), np.zeros((100, 60, 3),
                                                      np.uint8))
    (tmp_path / 'img_2.jpg').write_bytes(b'\xff\xd8corrupt')
    lenient = HumanDataDataset(str(path), pipeline=PIPELINE,
                               data_prefix=dict(img=str(tmp_path)),
                               on_error='skip')
    out = lenient[0]  # missing: another sample is served
    assert out['data_samples'].img_path.endswith('img_1.jpg')
    assert lenient.num_skipped >= 1
    before = (tmp_path / 'hd.npz').read_bytes()
    lenient[2]
    assert (tmp_path / 'hd.npz').read_bytes() == before
