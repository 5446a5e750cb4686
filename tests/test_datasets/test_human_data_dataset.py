import logging

import numpy as np
import pytest
from mmengine.logging import MMLogger

from pointhmr_mm.datasets import HumanDataDataset
from pointhmr_mm.datasets.conventions import (HUMAN_DATA_INDEX,
                                              SURREAL_GENDER_CODES)
from pointhmr_mm.utils.safe_pickle import load_npz

from toolbox.datasets import (OPENPOSE_TWIN, PIPELINE, SPIN_GT_JOINTS,
                              SPIN_OCCLUDED, compress, human_data_arrays,
                              write_human_data, write_human_data_split,
                              write_jpeg)
from pointhmr_mm.setup_env import register_all_modules

register_all_modules()


def build(path, root, **kwargs):
    kwargs.setdefault('pipeline', [])
    return HumanDataDataset(str(path), data_prefix=dict(img=str(root)),
                            **kwargs)


@pytest.mark.parametrize('layout', ['full', 'compressed'])
def test_reads_keypoints_bbox_and_smpl(tmp_path, layout):
    arrays = human_data_arrays()
    if layout == 'compressed':
        arrays = compress(arrays)
        assert arrays['keypoints2d'].shape == (3, 4, 3)
    ds = build(write_human_data(tmp_path / 'hd.npz', arrays), tmp_path,
               dataset_name='toy', eval_protocol='3dpw')
    assert len(ds) == 3
    info = ds.get_data_info(1)
    kp2d, kp3d = info['keypoints_2d'], info['keypoints_3d']
    assert kp2d.shape == (14, 3) and kp3d.shape == (14, 4)
    assert kp2d[0].tolist() == [10., 20., 1.]  # R_Ankle
    assert kp2d[2].tolist() == [11., 21., 1.]  # R_Hip: the LSP hip wins
    assert kp2d[12].tolist() == [30., 40., 0.5]  # Neck
    assert (kp2d[[1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13], 2] == 0).all()
    np.testing.assert_allclose(kp3d[13], [0.1, -0.7, 3., 1.])
    assert (kp3d[:13, 3] == 0).all()
    assert info['bbox_center'].tolist() == [12., 19.]
    # MMHuman3D's crop: max(w, h) of the (already enlarged) box
    assert info['bbox_size'] == pytest.approx(30.)
    smpl = human_data_arrays()['smpl']
    np.testing.assert_allclose(info['smpl_pose'][:3],
                               smpl['global_orient'][1], rtol=1e-6)
    np.testing.assert_allclose(info['smpl_pose'][3:],
                               smpl['body_pose'][1].reshape(-1), rtol=1e-6)
    assert info['smpl_betas'].shape == (10, ) and info['has_smpl'] == 1
    assert [ds.get_data_info(i)['gender'] for i in range(3)] == [
        'male', 'female', 'neutral']
    assert info['img_path'] == str(tmp_path / 'img_1.jpg')
    assert (info['dataset_name'], info['eval_protocol'],
            info['sample_idx']) == ('toy', '3dpw', 1)


def test_mask_hides_joints_of_uncompressed_files(tmp_path):
    arrays = human_data_arrays()
    mask = arrays['keypoints2d_mask'].copy()
    mask[HUMAN_DATA_INDEX['right_ankle']] = 0
    ds = build(write_human_data(tmp_path / 'hd.npz', keypoints2d_mask=mask),
               tmp_path)
    assert ds.get_data_info(0)['keypoints_2d'][0, 2] == 0


def expanded_kp2d(path):
    """(N, 190, 3) keypoints2d of a compressed split, as stored."""
    data = load_npz(str(path))
    full = np.zeros((len(data['image_path']), 190, 3), np.float32)
    full[:, data['keypoints2d_mask'] > 0] = data['keypoints2d']
    return full


def test_occluded_gt_joints_keep_zero_confidence(tmp_path):
    npz, img_dir = write_human_data_split(tmp_path, count=6)
    stored = expanded_kp2d(npz)
    ds = build(npz, img_dir)
    for i in range(6):
        kp2d = ds.get_data_info(i)['keypoints_2d']
        occluded = SPIN_OCCLUDED[i % len(SPIN_OCCLUDED)]
        j = SPIN_GT_JOINTS.index(occluded)
        # the OpenPose detection at the same body place is not GT
        assert stored[i, HUMAN_DATA_INDEX[OPENPOSE_TWIN[occluded]], 2] > 0
        assert kp2d[j].tolist() == [0., 0., 0.]
        others = [k for k in range(14) if k != j]
        np.testing.assert_array_equal(
            kp2d[others],
            stored[i, [HUMAN_DATA_INDEX[SPIN_GT_JOINTS[k]] for k in others]])


def test_approximate_joint_only_for_a_joint_the_file_lacks(tmp_path):
    arrays = human_data_arrays()
    kp2d, mask = arrays['keypoints2d'], arrays['keypoints2d_mask']
    wrist = HUMAN_DATA_INDEX['right_wrist_openpose']
    kp2d[:, wrist] = [[7., 8., 0.5], [7., 8., 0.], [9., 9., 0.25]]
    mask[wrist] = 1  # the file has OpenPose's wrist, not the GT wrist
    ds = build(write_human_data(tmp_path / 'hd.npz', keypoints2d=kp2d,
                                keypoints2d_mask=mask), tmp_path)
    # taken for the whole file, confidence as stored (sample 1: 0)
    assert [ds.get_data_info(i)['keypoints_2d'][6].tolist()
            for i in range(3)] == [[7., 8., 0.5], [7., 8., 0.],
                                   [9., 9., 0.25]]
    # the mask decides: with right_hip_extra masked out for the file,
    # right_hip (its first approximate joint) stands in
    mask[HUMAN_DATA_INDEX['right_hip_extra']] = 0
    ds = build(write_human_data(tmp_path / 'hd2.npz', keypoints2d=kp2d,
                                keypoints2d_mask=mask), tmp_path)
    assert ds.get_data_info(1)['keypoints_2d'][2].tolist() == [99., 99., 1.]


def test_bbox_scale_option(tmp_path):
    path = write_human_data(tmp_path / 'hd.npz')
    ds = build(path, tmp_path, bbox_scale=1.2)
    assert ds.get_data_info(0)['bbox_size'] == pytest.approx(36.)


def test_gender_codes_per_dataset(tmp_path):
    path = write_human_data(tmp_path / 'hd.npz',
                            meta=dict(gender=np.array([0, 1, 0])))
    spin = build(path, tmp_path)
    assert [spin.get_data_info(i)['gender'] for i in range(3)] == [
        'male', 'female', 'male']
    surreal = build(path, tmp_path, gender_codes=SURREAL_GENDER_CODES)
    assert [surreal.get_data_info(i)['gender'] for i in range(3)] == [
        'female', 'male', 'female']
    path = write_human_data(tmp_path / 'odd.npz',
                            meta=dict(gender=np.array([0., 1., 2.])))
    with pytest.raises(ValueError, match=r"odd.npz: 'meta.gender' sample 2:"
                       ' gender code 2 is not in gender_codes'):
        build(path, tmp_path)
    for bad in ([0, 1], {0: 'man'}, {'0': 'male'}):
        with pytest.raises(ValueError, match='gender_codes'):
            build(path, tmp_path, gender_codes=bad)


def test_per_sample_has_smpl(tmp_path):
    path = write_human_data(tmp_path / 'hd.npz',
                            has_smpl=np.array([1, 0, 1], np.uint8))
    ds = build(path, tmp_path)
    assert [ds.get_data_info(i)['has_smpl'] for i in range(3)] == [1, 0, 1]
    path = write_human_data(tmp_path / 'bad.npz', has_smpl=np.ones(2))
    with pytest.raises(ValueError, match="bad.npz: key 'has_smpl' has "
                       r'shape \(2,\)'):
        build(path, tmp_path)


def test_split_with_images_runs_the_pipeline(tmp_path):
    npz, img_dir = write_human_data_split(tmp_path, count=3,
                                          image_hw=(50, 40))
    ds = build(npz, img_dir, pipeline=PIPELINE, test_mode=True)
    out = ds[1]
    assert out['inputs'].shape == (3, 32, 32)
    assert out['data_samples'].metainfo['ori_shape'] == (50, 40)
    assert out['data_samples'].gender == 'female'


def test_without_smpl_or_keypoints3d(tmp_path):
    path = write_human_data(tmp_path / 'hd.npz', smpl=None, keypoints3d=None,
                            keypoints3d_mask=None, meta=None)
    info = build(path, tmp_path).get_data_info(0)
    assert info['has_smpl'] == 0 and not info['smpl_pose'].any()
    assert info['keypoints_3d'].shape == (14, 4)
    assert not info['keypoints_3d'].any() and info['gender'] == 'neutral'


def test_bad_files_are_named(tmp_path):
    np.savez(tmp_path / 'nokey.npz', image_path=np.array(['a.jpg']))
    with pytest.raises(KeyError, match="nokey.npz has no key 'bbox_xywh'"):
        build(tmp_path / 'nokey.npz', tmp_path)
    with pytest.raises(FileNotFoundError, match='absent.npz'):
        build(tmp_path / 'absent.npz', tmp_path)
    # 17 joints where the convention has 190
    path = write_human_data(tmp_path / 'joints.npz',
                            keypoints2d=np.zeros((3, 17, 3), np.float32),
                            keypoints2d_mask=np.ones(190))
    with pytest.raises(ValueError, match="joints.npz: compressed key "
                       "'keypoints2d' holds 17 joints"):
        build(path, tmp_path)
    path = write_human_data(tmp_path / 'joints2.npz',
                            keypoints2d=np.zeros((3, 190, 2), np.float32))
    with pytest.raises(ValueError, match=r"joints2.npz: key 'keypoints2d' "
                       r'has shape \(3, 190, 2\)'):
        build(path, tmp_path)
    pose = np.zeros((3, 22, 3))
    path = write_human_data(tmp_path / 'pose.npz', smpl=dict(
        body_pose=pose, global_orient=np.zeros((3, 3)),
        betas=np.zeros((3, 10))))
    with pytest.raises(ValueError, match="pose.npz: key 'smpl.body_pose'"):
        build(path, tmp_path)


def test_nan_names_sample_and_key(tmp_path):
    kp3d = human_data_arrays()['keypoints3d']
    kp3d[2, HUMAN_DATA_INDEX['headtop'], 1] = np.nan
    path = write_human_data(tmp_path / 'nan.npz', keypoints3d=kp3d)
    with pytest.raises(ValueError, match="nan.npz: key 'keypoints3d' has "
                       'NaN/inf at sample 2'):
        build(path, tmp_path)
    bbox = np.tile([0., 0., 5., 5., 1.], (3, 1))
    bbox[1, 0] = np.inf
    path = write_human_data(tmp_path / 'inf.npz', bbox_xywh=bbox)
    with pytest.raises(ValueError, match="key 'bbox_xywh' has NaN/inf at "
                       'sample 1'):
        build(path, tmp_path)
    bbox[1, 0] = 0.
    bbox[2, 2:4] = 0.
    path = write_human_data(tmp_path / 'empty.npz', bbox_xywh=bbox)
    with pytest.raises(ValueError, match='empty.npz: .* empty box at '
                       'sample 2'):
        build(path, tmp_path)


def test_bad_arguments(tmp_path):
    path = write_human_data(tmp_path / 'hd.npz')
    with pytest.raises(ValueError, match='on_error'):
        build(path, tmp_path, on_error='ignore')
    with pytest.raises(ValueError, match='eval_protocol'):
        build(path, tmp_path, eval_protocol='h36m_p1')
    with pytest.raises(ValueError, match='test_mode'):
        build(path, tmp_path, on_error='skip', test_mode=True)
    with pytest.raises(ValueError, match='bbox_scale'):
        build(path, tmp_path, bbox_scale=0.)


def test_pipeline_loads_image(tmp_path):
    path = write_human_data(tmp_path / 'hd.npz')
    for i in range(3):
        write_jpeg(tmp_path / f'img_{i}.jpg', value=60 + 50 * i)
    out = build(path, tmp_path, pipeline=PIPELINE, test_mode=True)[2]
    assert out['inputs'].shape == (3, 32, 32)
    # the crop's centre shows image 2 (grey 160), not the padding
    assert abs(float(out['inputs'][:, 16, 16].float().mean()) - 160) < 4
    assert out['data_samples'].sample_idx == 2


def test_missing_image_raises_with_file_and_sample(tmp_path):
    path = write_human_data(tmp_path / 'hd.npz')
    ds = build(path, tmp_path, pipeline=PIPELINE, test_mode=True)
    with pytest.raises(RuntimeError, match='sample 0 .*img_0.jpg'):
        ds[0]
    (tmp_path / 'img_1.jpg').write_bytes(b'\xff\xd8 not a jpeg')
    with pytest.raises(RuntimeError, match='sample 1 .*img_1.jpg.*decode'):
        ds[1]


class Records(logging.Handler):
    """Collects the messages of mmengine's current logger."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_skip_policy_serves_another_sample(tmp_path):
    path = write_human_data(tmp_path / 'hd.npz')
    write_jpeg(tmp_path / 'img_1.jpg')
    (tmp_path / 'img_2.jpg').write_bytes(b'\xff\xd8corrupt')
    before = path.read_bytes()
    ds = build(path, tmp_path, pipeline=PIPELINE, on_error='skip')
    records, logger = Records(), MMLogger.get_current_instance()
    logger.addHandler(records)
    try:
        outs = [ds[0] for _ in range(3)] + [ds[2]]
    finally:
        logger.removeHandler(records)
    # only sample 1 is readable: every request ends there
    assert all(o['data_samples'].sample_idx == 1 for o in outs)
    assert ds.num_skipped >= 4
    # each broken sample is reported once, with its file
    logged = [m for m in records.messages if 'skipping sample 0' in m]
    assert len(logged) == 1 and 'img_0.jpg' in logged[0]
    assert path.read_bytes() == before  # input never rewritten
