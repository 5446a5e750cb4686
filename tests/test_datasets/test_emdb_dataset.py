import pickle

import cv2
import numpy as np
import pytest

from pointhmr_mm.datasets.emdb_dataset import EMDBDataset, joint_boxes
from pointhmr_mm.setup_env import register_all_modules

from toolbox.datasets import PIPELINE
from toolbox.public_sources import EMDB_HW, write_emdb

register_all_modules()


@pytest.fixture
def emdb(tmp_path):
    return tmp_path, write_emdb(tmp_path)


def build(root, **kwargs):
    kwargs.setdefault('pipeline', [])
    return EMDBDataset(data_root=str(root), **kwargs)


@pytest.mark.parametrize('subset,expected', [
    ('emdb1', {'P1_14_outdoor_climb': [0, 2, 3, 4], 'P7_61_outdoor_sit':
               [0, 2]}),
    ('emdb2', {'P3_27_indoor_walk': [0, 2, 3], 'P7_61_outdoor_sit': [0, 2]}),
    (None, {'P1_14_outdoor_climb': [0, 2, 3, 4], 'P3_27_indoor_walk':
            [0, 2, 3], 'P7_61_outdoor_sit': [0, 2]}),
])
def test_selects_sequences_by_flag_and_good_frames(emdb, subset, expected):
    root, _ = emdb
    ds = build(root, subset=subset)
    got = {}
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        subject = info['img_path'].split('/')[-4]
        got.setdefault(f"{subject}_{info['sequence']}", []).append(
            info['frame'])
    assert got == expected


def test_labels_are_camera_frame_and_gendered(emdb):
    root, written = emdb
    ds = build(root)
    info = ds.get_data_info(1)  # P1_14_outdoor_climb, frame 2
    data = written['P1_14_outdoor_climb']
    assert info['frame'] == 2
    extr = data['camera']['extrinsics'][2]
    world_root = cv2.Rodrigues(data['smpl']['poses_root'][2])[0]
    expected_root = cv2.Rodrigues(extr[:3, :3] @ world_root)[0].ravel()
    np.testing.assert_allclose(info['smpl_pose'][:3], expected_root,
                               atol=1e-5)
    np.testing.assert_allclose(info['smpl_pose'][3:],
                               data['smpl']['poses_body'][2], atol=1e-6)
    np.testing.assert_allclose(info['smpl_betas'], data['smpl']['betas'])
    assert info['gender'] == 'female' and info['has_smpl'] == 1.
    assert ds.get_data_info(len(ds) - 1)['gender'] == 'male'
    assert info['img_path'] == str(root / 'P1' / '14_outdoor_climb' /
                                   'images' / '00002.jpg')
    assert info['eval_protocol'] == 'emdb' and info['dataset_name'] == 'emdb'
    assert (info['keypoints_2d'][:, 2] == 0).all()
    assert (info['keypoints_3d'][:, 3] == 0).all()


def test_crop_box_from_box_or_from_joints(emdb):
    root, written = emdb
    ds = build(root)
    data = written['P1_14_outdoor_climb']
    first = ds.get_data_info(0)  # frame 0: a valid box
    x0, y0, x1, y1 = data['bboxes']['bboxes'][0]
    np.testing.assert_allclose(first['bbox_center'], [(x0 + x1) / 2,
                                                      (y0 + y1) / 2])
    assert first['bbox_size'] == pytest.approx(1.2 * max(x1 - x0, y1 - y0))
    assert not first['box_from_joints']
    second = ds.get_data_info(1)  # frame 2: good, but an empty box
    assert second['box_from_joints']
    kp = data['kp2d'][2]  # all inside the image
    lo, hi = kp.min(0), kp.max(0)
    np.testing.assert_allclose(second['bbox_center'], (lo + hi) / 2,
                               rtol=1e-6)
    assert second['bbox_size'] == pytest.approx(1.2 * (hi - lo).max(),
                                                rel=1e-6)


def test_joint_boxes_ignore_joints_outside_the_image():
    kp = np.array([[[5., 5.], [15., 25.], [-40., 8.]],
                   [[-5., -5.], [-1., -9.], [-3., -2.]]])
    boxes = joint_boxes(kp, width=20, height=30)
    np.testing.assert_allclose(boxes[0], [5., 5., 15., 25.])
    np.testing.assert_allclose(boxes[1], [-5., -9., -1., -2.])


def test_pipeline_packs_a_sample_and_file_is_untouched(emdb):
    root, _ = emdb
    path = root / 'P1' / '14_outdoor_climb' / 'P1_14_outdoor_climb_data.pkl'
    before = path.read_bytes()
    ds = build(root, pipeline=PIPELINE, test_mode=True)
    out = ds[0]
    assert tuple(out['inputs'].shape) == (3, 32, 32)
    sample = out['data_samples']
    assert sample.eval_protocol == 'emdb' and sample.gender == 'female'
    assert tuple(sample.ori_shape) == EMDB_HW
    assert path.read_bytes() == before


def test_pickles_without_labels_and_reads_them_again(emdb):
    root, _ = emdb
    ds = build(root)
    blob = pickle.dumps(ds)
    assert len(blob) < 20000
    assert b'poses_body' not in blob
    clone = pickle.loads(blob)
    assert len(clone) == len(ds)
    a, b = ds.get_data_info(3), clone.get_data_info(3)
    np.testing.assert_array_equal(a['smpl_pose'], b['smpl_pose'])
    assert a['img_path'] == b['img_path']


def test_errors_name_file_key_and_sample(emdb, tmp_path_factory):
    root, written = emdb
    empty = tmp_path_factory.mktemp('empty')
    with pytest.raises(FileNotFoundError, match='emdb.ait.ethz.ch'):
        build(empty)
    with pytest.raises(ValueError, match='subset'):
        build(root, subset='emdb3')
    path = root / 'P1' / '14_outdoor_climb' / 'P1_14_outdoor_climb_data.pkl'
    data = written['P1_14_outdoor_climb']
    broken = dict(data, smpl={k: v for k, v in data['smpl'].items()
                              if k != 'poses_body'})
    path.write_bytes(pickle.dumps(broken))
    with pytest.raises(KeyError, match=r"P1_14_outdoor_climb_data.pkl.*"
                       r"'smpl'.*poses_body"):
        build(root)
    bad = dict(data, kp2d=data['kp2d'][:, :17])
    path.write_bytes(pickle.dumps(bad))
    with pytest.raises(ValueError, match=r"_data.pkl: key 'kp2d' has shape"):
        build(root)
    nan = dict(data, smpl=dict(data['smpl']))
    nan['smpl']['poses_body'] = data['smpl']['poses_body'].copy()
    nan['smpl']['poses_body'][3, 5] = np.nan
    path.write_bytes(pickle.dumps(nan))
    with pytest.raises(ValueError, match=r"'smpl.poses_body' has NaN/inf at "
                       r'sample 3'):
        build(root)
    ds = build(root, subset='emdb2')  # that file is not read for emdb2...
    assert len(ds) == 5
    with pytest.raises(IndexError, match='out of range'):
        ds.get_data_info(5)


def test_lazy_init_and_refused_arguments(emdb):
    root, _ = emdb
    ds = build(root, lazy_init=True)
    assert ds._columns is None
    assert len(ds) == 6 and ds.get_data_info(5)['frame'] == 2
    assert len(build(root, serialize_data=False)) == 6
    for key in ('indices', 'serialize_data'):
        with pytest.raises(ValueError, match=key):
            build(root, **{key: [0] if key == 'indices' else True})


def test_sequence_without_good_frames_adds_no_sample(tmp_path):
    written = write_emdb(tmp_path)
    path = tmp_path / 'P7' / '61_outdoor_sit' / 'P7_61_outdoor_sit_data.pkl'
    data = dict(written['P7_61_outdoor_sit'])
    data['good_frames_mask'] = np.zeros(3, bool)
    path.write_bytes(pickle.dumps(data))
    ds = build(tmp_path)
    assert len(ds) == 4
    assert all('P1' in ds.get_data_info(i)['img_path'] for i in range(4))
