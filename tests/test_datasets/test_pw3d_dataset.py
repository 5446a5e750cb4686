"""Pw3dDataset on sequence files written in 3DPW's own layout, against
independent readings of SPIN's ``pw3d_extract`` and Pose2Mesh's
``3dpw2coco.py`` written here."""
import pickle

import cv2
import numpy as np
import pytest

from pointhmr_mm.datasets import Pw3dDataset
from pointhmr_mm.registry import DATASETS
from pointhmr_mm.setup_env import register_all_modules
from toolbox.pw3d import IMAGE_HW, python2_pickle, sequence, small_pw3d

register_all_modules()

# COCO-18 index of each LSP-14 joint, by name (OpenPose neck/hips stand in)
COCO18 = ('nose', 'neck', 'r_sho', 'r_elb', 'r_wri', 'l_sho', 'l_elb',
          'l_wri', 'r_hip', 'r_knee', 'r_ank', 'l_hip', 'l_knee', 'l_ank',
          'r_eye', 'l_eye', 'r_ear', 'l_ear')
LSP14 = ('r_ank', 'r_knee', 'r_hip', 'l_hip', 'l_knee', 'l_ank', 'r_wri',
         'r_elb', 'r_sho', 'l_sho', 'l_elb', 'l_wri', 'neck')


@pytest.fixture(scope='module')
def pw3d(tmp_path_factory):
    return small_pw3d(tmp_path_factory.mktemp('3dpw'))


def read_latin1(path):
    with open(path, 'rb') as f:
        return pickle.load(f, encoding='latin1')


def spin_extract(root, split='test'):
    """SPIN's pw3d_extract, written out: valid camera frames, box from the
    detected joints (a frame without any is skipped here: SPIN's min()
    would fail on it), root rotated with cv2.Rodrigues."""
    out = []
    for path in sorted((root / 'sequenceFiles' / split).glob('*.pkl')):
        data = read_latin1(path)
        for i in range(len(data['poses'])):
            valid = np.array(data['campose_valid'][i]).astype(bool)
            for f in np.flatnonzero(valid):
                part = data['poses2d'][i][f].T
                part = part[part[:, 2] > 0, :]
                if len(part) == 0:
                    continue
                x0, y0 = part[:, 0].min(), part[:, 1].min()
                x1, y1 = part[:, 0].max(), part[:, 1].max()
                scale = 1.2 * max(x1 - x0, y1 - y0) / 200
                pose = data['poses'][i][f].copy()
                r_cam = data['cam_poses'][f][:3, :3]
                pose[:3] = cv2.Rodrigues(
                    r_cam @ cv2.Rodrigues(pose[:3])[0])[0].T[0]
                out.append(dict(
                    img=f"{data['sequence']}/image_{f:05d}.jpg",
                    center=[(x0 + x1) / 2, (y0 + y1) / 2], side=scale * 200,
                    pose=pose, betas=data['betas'][i][:10],
                    gender=data['genders'][i]))
    return out


def pose2mesh_boxes(root, split='test'):
    """Pose2Mesh's 3dpw2coco.py boxes (x, y, w, h) per (sequence, person,
    frame), joints projected with K and kept inside the image."""
    boxes = {}
    for path in sorted((root / 'sequenceFiles' / split).glob('*.pkl')):
        data = read_latin1(path)
        k = data['cam_intrinsics']
        first = root / 'imageFiles' / data['sequence'] / 'image_00000.jpg'
        height, width = cv2.imread(str(first)).shape[:2]
        for f, cam in enumerate(data['cam_poses']):
            for i in range(len(data['poses'])):
                if data['campose_valid'][i][f] == 0:
                    continue
                joints = data['jointPositions'][i][f].reshape(-1, 3)
                jc = (cam[:3, :3] @ joints.T).T + cam[:3, 3]
                x = jc[:, 0] / jc[:, 2] * k[0, 0] + k[0, 2]
                y = jc[:, 1] / jc[:, 2] * k[1, 1] + k[1, 2]
                ok = (x >= 0) & (x < width) & (y >= 0) & (y < height)
                if not ok.any():
                    continue
                x, y = x[ok], y[ok]
                cx, w = (x.min() + x.max()) / 2, (x.max() - x.min()) * 1.2
                cy, h = (y.min() + y.max()) / 2, (y.max() - y.min()) * 1.2
                boxes[(data['sequence'], i, f)] = (cx - w / 2, cy - h / 2,
                                                   w, h)
    return boxes


def test_builds_and_refuses_bad_arguments(pw3d):
    ds = DATASETS.build(dict(type='Pw3dDataset', data_root=str(pw3d),
                             split='validation', box='spin'))
    assert len(ds) > 0 and ds.dataset_name == '3dpw'
    assert ds.supervision() == dict(vertices=True, heatmap=True,
                                    joints_3d=False, joints_2d=True)
    for kwargs, match in ((dict(split='val'), 'split'),
                          (dict(box='tight'), 'box'),
                          (dict(eval_protocol='h36m_p2'), 'eval_protocol'),
                          (dict(serialize_data=True), 'serialize_data')):
        with pytest.raises(ValueError, match=match):
            Pw3dDataset(data_root=str(pw3d), **kwargs)
    with pytest.raises(FileNotFoundError, match='virtualhumans'):
        Pw3dDataset(data_root=str(pw3d / 'nowhere'))
    assert 'data/3dpw' in Pw3dDataset.DOWNLOAD_HINT


def test_files_need_latin1(pw3d):
    path = next((pw3d / 'sequenceFiles' / 'test').glob('*.pkl'))
    with pytest.raises(UnicodeDecodeError):
        with open(path, 'rb') as f:
            pickle.load(f)
    assert read_latin1(path)['betas'][1].shape == (300, )


def test_spin_boxes_samples_and_root_match_spin(pw3d):
    ds = Pw3dDataset(data_root=str(pw3d), split='test', box='spin',
                     eval_protocol='3dpw_gendered')
    ref = spin_extract(pw3d)
    assert len(ds) == len(ref) == 12  # 9 + 3: invalid and empty frames out
    genders = {'m': 'male', 'f': 'female'}
    for i, want in enumerate(ref):
        info = ds.get_data_info(i)
        assert info['img_path'].endswith(want['img'])
        np.testing.assert_allclose(info['bbox_center'], want['center'],
                                   rtol=1e-6)
        assert info['bbox_size'] == pytest.approx(want['side'], rel=1e-6)
        np.testing.assert_allclose(info['smpl_pose'], want['pose'],
                                   atol=1e-5)
        np.testing.assert_allclose(info['smpl_betas'], want['betas'],
                                   rtol=1e-6)
        assert info['smpl_betas'].shape == (10, )
        assert info['gender'] == genders[want['gender']]
        assert info['has_smpl'] == 1. and info['eval_protocol'] == \
            '3dpw_gendered'
        assert info['keypoints_3d'].shape == (14, 4)
        assert not info['keypoints_3d'][:, 3].any()


def test_root_rotation_puts_the_body_into_the_camera(pw3d):
    """R(root_cam) applied to a direction equals R_cam R(root_world)."""
    from scipy.spatial.transform import Rotation
    ds = Pw3dDataset(data_root=str(pw3d), split='train', box='spin')
    data = read_latin1(next((pw3d / 'sequenceFiles' / 'train').glob('*')))
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        f = info['frame']
        world = Rotation.from_rotvec(data['poses'][0][f][:3]).as_matrix()
        cam = Rotation.from_rotvec(info['smpl_pose'][:3]).as_matrix()
        np.testing.assert_allclose(cam, data['cam_poses'][f][:3, :3] @ world,
                                   atol=1e-5)
        np.testing.assert_allclose(info['smpl_pose'][3:],
                                   data['poses'][0][f][3:], rtol=1e-6)
    assert 1 not in [ds.get_data_info(i)['frame'] for i in range(len(ds))]


def test_pose2mesh_boxes_and_frames_match_pose2mesh(pw3d):
    ds = Pw3dDataset(data_root=str(pw3d), split='test', box='pose2mesh',
                     eval_protocol='3dpw')
    boxes = pose2mesh_boxes(pw3d)
    assert len(ds) == len(boxes) == 14  # empty detections do not matter
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        seq = info['img_path'].split('/')[-2]
        x, y, w, h = boxes[(seq, info['person'], info['frame'])]
        np.testing.assert_allclose(info['bbox_center'], [x + w / 2,
                                                         y + h / 2],
                                   rtol=1e-5)
        # METRO's square crop: 1.2 max(w, h) of Pose2Mesh's box
        assert info['bbox_size'] == pytest.approx(1.2 * max(w, h), rel=1e-5)


def test_keypoints_are_lsp14_from_channel_major_coco18(pw3d):
    ds = Pw3dDataset(data_root=str(pw3d), split='test', box='pose2mesh')
    data = read_latin1(pw3d / 'sequenceFiles' / 'test' /
                       'downtown_test_00.pkl')
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        if not info['img_path'].endswith('test_00/image_00002.jpg'):
            continue
        raw = data['poses2d'][info['person']][2]  # (3, 18)
        kp = info['keypoints_2d']
        for j, name in enumerate(LSP14):
            np.testing.assert_allclose(kp[j], raw[:, COCO18.index(name)],
                                       rtol=1e-6)
        assert kp[13, 2] == 0  # head top: none in COCO-18
        if info['person'] == 0:  # an all-zero detection frame
            assert not kp[:, 2].any()


def test_errors_name_file_key_and_person(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / 'sequenceFiles' / 'test'
    folder.mkdir(parents=True)
    seq = sequence('bad_00', 3, 2, rng)
    del seq['campose_valid']
    (folder / 'bad_00.pkl').write_bytes(python2_pickle(seq))
    with pytest.raises(KeyError, match="bad_00.pkl has no key 'campose_v"):
        Pw3dDataset(data_root=str(tmp_path), box='spin')
    seq = sequence('bad_00', 3, 2, rng)
    seq['genders'][1] = 'x'
    (folder / 'bad_00.pkl').write_bytes(python2_pickle(seq))
    with pytest.raises(ValueError, match='bad_00.pkl person 1.*genders'):
        Pw3dDataset(data_root=str(tmp_path), box='spin')
    seq = sequence('bad_00', 3, 2, rng)
    seq['poses2d'][0] = seq['poses2d'][0].transpose(0, 2, 1)
    (folder / 'bad_00.pkl').write_bytes(python2_pickle(seq))
    with pytest.raises(ValueError, match="person 0.*'poses2d' has shape"):
        Pw3dDataset(data_root=str(tmp_path), box='spin')
    seq = sequence('bad_00', 3, 2, rng)
    (folder / 'bad_00.pkl').write_bytes(python2_pickle(seq))
    with pytest.raises(FileNotFoundError, match='bad_00/image_00000.jpg'):
        Pw3dDataset(data_root=str(tmp_path), box='pose2mesh')


def test_samples_are_arrays_pickle_cheaply_and_go_through_pipeline(pw3d):
    pipeline = [dict(type='LoadMeshImage'),
                dict(type='MeshRandomAugParams', test_mode=True),
                dict(type='MeshAffineCrop', crop_size=32),
                dict(type='PackMeshInputs')]
    ds = Pw3dDataset(data_root=str(pw3d), split='test', box='spin',
                     pipeline=pipeline, test_mode=True)
    assert isinstance(ds.data_list.arrays['pose'], np.ndarray)
    restored = pickle.loads(pickle.dumps(ds))
    assert len(pickle.dumps(ds.data_list)) < 1500 * len(ds)
    out = restored[3]
    assert out['inputs'].shape == (3, 32, 32)
    assert out['data_samples'].gender in ('male', 'female')
    assert out['data_samples'].img_shape == (32, 32)
    assert out['data_samples'].ori_shape == IMAGE_HW
    # subsets (indices=) stay valid
    part = Pw3dDataset(data_root=str(pw3d), split='test', box='spin',
                       indices=5)
    assert len(part) == 5
    assert part.get_data_info(4)['img_path'] == ds.get_data_info(4)[
        'img_path']
