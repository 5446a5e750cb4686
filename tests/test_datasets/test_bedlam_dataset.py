import logging
import pickle

import cv2
import numpy as np
import pytest
from mmengine.logging import MMLogger

from pointhmr_mm.datasets.bedlam_dataset import (BedlamDataset,
                                                 default_rotation)
from pointhmr_mm.setup_env import register_all_modules
from pointhmr_mm.utils.safe_pickle import load_npz

from toolbox.datasets import PIPELINE
from toolbox.public_sources import (BEDLAM_CLOSEUP, BEDLAM_HW,
                                    BEDLAM_NOT_ROTATED, BEDLAM_SCENE,
                                    bedlam_labels, write_bedlam)

register_all_modules()
SCENES = (BEDLAM_SCENE, BEDLAM_CLOSEUP, BEDLAM_NOT_ROTATED)


@pytest.fixture
def bedlam(tmp_path):
    return tmp_path, write_bedlam(tmp_path)


def build(root, files=SCENES, **kwargs):
    kwargs.setdefault('pipeline', [])
    entries = [str(root / 'labels' / f'{s}.npz') for s in files]
    return BedlamDataset(ann_files=entries,
                         data_prefix=dict(img=str(root / 'images')),
                         **kwargs)


def test_reads_smpl_labels_box_and_camera(bedlam):
    root, written = bedlam
    ds = build(root)
    assert len(ds) == 9
    labels = written[BEDLAM_CLOSEUP]
    info = ds.get_data_info(4)  # the closeup file's second sample
    assert info['img_path'] == str(root / 'images' / BEDLAM_CLOSEUP / 'png' /
                                   labels['imgname'][1])
    np.testing.assert_allclose(info['bbox_center'], labels['center'][1],
                               rtol=1e-6)
    assert info['bbox_size'] == pytest.approx(labels['scale'][1] * 200)
    np.testing.assert_allclose(info['smpl_pose'], labels['pose_cam'][1],
                               rtol=1e-6)
    np.testing.assert_allclose(info['smpl_betas'], labels['shape'][1, :10],
                               rtol=1e-6)
    # the body's camera-frame translation: placement + trans_cam
    np.testing.assert_allclose(
        info['smpl_transl'],
        labels['cam_ext'][1, :3, 3] + labels['trans_cam'][1], rtol=1e-6)
    k = labels['cam_int'][1]
    np.testing.assert_allclose(info['cam_intrinsics'],
                               [k[0, 0], k[1, 1], k[0, 2], k[1, 2]])
    # neutral-body labels; the subject's gender is kept aside
    assert info['gender'] == 'neutral' and info['subject_gender'] == 'male'
    assert info['has_smpl'] == 1. and info['rotate_cw']
    np.testing.assert_allclose(info['keypoints_2d'][:, :2],
                               labels['gtkps'][1, 25:39, :2], rtol=1e-6)
    assert (info['keypoints_2d'][:, 2] == 1).all()
    assert (info['keypoints_3d'][:, 3] == 0).all()


def test_repeated_reads_do_not_drift_and_files_stay(bedlam):
    root, written = bedlam
    path = root / 'labels' / f'{BEDLAM_SCENE}.npz'
    ds = build(root)
    first = ds.get_data_info(0)['smpl_transl']
    for _ in range(3):
        np.testing.assert_array_equal(ds.get_data_info(0)['smpl_transl'],
                                      first)
    stored = load_npz(path)
    np.testing.assert_array_equal(stored['cam_ext'],
                                  written[BEDLAM_SCENE]['cam_ext'])


def test_closeup_rule_follows_bedlam_readers():
    assert not default_rotation(f'x/{BEDLAM_SCENE}.npz')
    assert default_rotation(f'x/{BEDLAM_CLOSEUP}.npz')
    assert not default_rotation(f'x/{BEDLAM_NOT_ROTATED}.npz')
    assert not default_rotation('agora.npz')


def test_closeup_images_are_turned_upright_before_the_crop(bedlam):
    root, _ = bedlam
    height, width = BEDLAM_HW
    # a bright block at stored (x 30..33, y 2..5): after a clockwise turn
    # it sits at (x = H - 1 - y, y = x) = (x 18..21, y 30..33)
    img = np.zeros((height, width, 3), np.uint8)
    img[2:6, 30:34] = 255
    labels = bedlam_labels(1, portrait=True)
    labels.update(center=np.array([[19.5, 31.5]]),
                  scale=np.array([3. / 200]))
    cv2.imwrite(str(root / 'images' / BEDLAM_CLOSEUP / 'png' /
                    str(labels['imgname'][0])), img)
    np.savez(root / 'labels' / f'{BEDLAM_CLOSEUP}.npz', **labels)
    upright = build(root, files=[BEDLAM_CLOSEUP], pipeline=PIPELINE,
                    test_mode=True, keypoints_2d=None)[0]
    assert tuple(upright['data_samples'].ori_shape) == (width, height)
    assert upright['inputs'].float().mean() > 250
    sideways = BedlamDataset(
        ann_files=[dict(ann_file=str(root / 'labels' /
                                     f'{BEDLAM_CLOSEUP}.npz'),
                        img_dir=str(root / 'images' / BEDLAM_CLOSEUP /
                                    'png'), rotate=False)],
        pipeline=PIPELINE, test_mode=True, keypoints_2d=None)[0]
    assert sideways['inputs'].float().mean() < 5


def test_agora_with_its_own_image_folder(bedlam):
    root, written = bedlam
    ds = BedlamDataset(ann_file=dict(
        ann_file=str(root / 'agora' / 'agora.npz'),
        img_dir=str(root / 'agora' / 'images')), pipeline=PIPELINE,
        dataset_name='agora')
    assert len(ds) == 3
    info = ds.get_data_info(2)
    assert info['img_path'].endswith('agora/images/ag_trainset_2.png')
    assert not info['rotate_cw']
    np.testing.assert_allclose(info['smpl_betas'],
                               written['agora']['shape'][2], rtol=1e-6)
    out = ds[2]
    assert tuple(out['inputs'].shape) == (3, 32, 32)
    assert out['data_samples'].gender == 'neutral'
    assert out['data_samples'].dataset_name == 'agora'


def test_pickles_without_labels(bedlam):
    root, _ = bedlam
    ds = build(root)
    blob = pickle.dumps(ds)
    assert len(blob) < 20000 and b'seq_000001' not in blob
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone.get_data_info(7)['smpl_pose'],
                                  ds.get_data_info(7)['smpl_pose'])


def test_errors_name_file_key_and_sample(bedlam):
    root, written = bedlam
    with pytest.raises(ValueError, match='exactly one'):
        BedlamDataset(pipeline=[])
    with pytest.raises(ValueError, match='keypoints_2d'):
        build(root, keypoints_2d='coco')
    with pytest.raises(FileNotFoundError, match='bedlam.is.tue.mpg.de'):
        build(root, files=['missing_scene'])
    path = root / 'labels' / f'{BEDLAM_SCENE}.npz'
    labels = written[BEDLAM_SCENE]
    np.savez(path, **{k: v for k, v in labels.items() if k != 'cam_ext'})
    with pytest.raises(KeyError, match=f"{BEDLAM_SCENE}.npz: no key "
                       "'cam_ext'"):
        build(root)
    smplx = dict(labels, pose_cam=np.zeros((3, 165)))
    np.savez(path, **smplx)
    with pytest.raises(ValueError, match=r"'pose_cam' is 165 wide: SMPL-X"):
        build(root)
    shuffled = dict(labels, gtkps=labels['gtkps'][:, ::-1].copy())
    np.savez(path, **shuffled)
    with pytest.raises(ValueError, match="'gtkps' is not in CameraHMR's"):
        build(root)
    assert len(build(root, keypoints_2d=None)) == 9
    nan = dict(labels, trans_cam=labels['trans_cam'].copy())
    nan['trans_cam'][2, 1] = np.inf
    np.savez(path, **nan)
    with pytest.raises(ValueError, match="'trans_cam' has NaN/inf at "
                       'sample 2'):
        build(root)


def test_glob_entries_relative_to_data_root(bedlam):
    root, _ = bedlam
    ds = BedlamDataset(ann_files=['labels/2022101[01]_*.npz'],
                       data_root=str(root), data_prefix=dict(img='images'),
                       pipeline=[])
    assert [f['ann_file'] for f in ds.files] == [
        str(root / 'labels' / f'{s}.npz')
        for s in (BEDLAM_SCENE, BEDLAM_CLOSEUP)]
    assert ds.get_data_info(0)['img_path'] == str(
        root / 'images' / BEDLAM_SCENE / 'png' / 'seq_000000' /
        'seq_000000_0000.png')
    with pytest.raises(FileNotFoundError, match='no label file matches'):
        BedlamDataset(ann_files=['labels/1999*.npz'], data_root=str(root),
                      pipeline=[])



def test_warns_when_labels_and_rotation_disagree(bedlam):
    root, _ = bedlam
    records, logger = [], MMLogger.get_current_instance()
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        BedlamDataset(ann_files=[dict(
            ann_file=str(root / 'labels' / f'{BEDLAM_CLOSEUP}.npz'),
            rotate=False)], pipeline=[])
    finally:
        logger.removeHandler(handler)
    assert any('portrait frame (cam_int) but rotate=False' in r.getMessage()
               for r in records)
