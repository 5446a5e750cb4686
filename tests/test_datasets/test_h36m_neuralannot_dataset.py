import json
import pickle

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from pointhmr_mm.datasets.h36m_neuralannot_dataset import (
    H36MNeuralAnnotDataset, sanitised_boxes)
from pointhmr_mm.registry import MODELS
from pointhmr_mm.setup_env import register_all_modules

from toolbox.datasets import PIPELINE
from toolbox.public_sources import H36M_HW, write_h36m

register_all_modules()
# LSP-14 joint -> H36M-17 joint, by name (R_Ankle is H36M's R_Ankle, ...)
LSP_FROM_H36M = {0: 3, 1: 2, 2: 1, 3: 4, 4: 5, 5: 6, 6: 16, 7: 15, 8: 14,
                 9: 11, 10: 12, 11: 13, 12: 8, 13: 10}


def body_model_cfg(body_model_dir):
    """The embedded body (tests/conftest.py) with its H36M regressor."""
    return dict(type='SMPL', model_path=str(body_model_dir / 'smpl'),
                joint_regressors=dict(
                    h36m=str(body_model_dir / 'J_regressor_h36m.npy')))


def build(root, **kwargs):
    kwargs.setdefault('pipeline', [])
    return H36MNeuralAnnotDataset(data_root=str(root), **kwargs)


def test_splits_select_subjects_cameras_and_frames(tmp_path):
    write_h36m(tmp_path)
    train = build(tmp_path, subjects=(1, ))
    assert len(train) == 6  # frames 0, 5, 10 of both cameras
    assert train.eval_protocol is None
    test = build(tmp_path, split='test_p2', subjects=(9, ))
    names = [test.get_data_info(i)['img_path'] for i in range(len(test))]
    assert [n[-10:] for n in names] == ['000001.jpg', '000006.jpg',
                                        '000011.jpg']
    assert all('_ca_04' in n for n in names)
    assert test.get_data_info(0)['eval_protocol'] == 'h36m_p2'
    with pytest.raises(FileNotFoundError, match='Human36M_subject11_data'):
        build(tmp_path, split='test_p2')  # S11 is not there


def test_camera_frame_labels(tmp_path):
    written = write_h36m(tmp_path)[9]
    ds = build(tmp_path, split='test_p2', subjects=(9, ))
    info = ds.get_data_info(1)  # frame 5, camera 4
    cam = written['camera']['4']
    rot, t = np.array(cam['R']), np.array(cam['t'])
    world = np.array(written['joint_3d']['2']['1']['5'])  # mm
    joints = (world @ rot.T + t) / 1000.
    for lsp, h36m in LSP_FROM_H36M.items():
        np.testing.assert_allclose(info['keypoints_3d'][lsp, :3],
                                   joints[h36m], rtol=1e-5)
        u = joints[h36m, 0] / joints[h36m, 2] * cam['f'][0] + cam['c'][0]
        assert info['keypoints_2d'][lsp, 0] == pytest.approx(u, rel=1e-5)
    assert (info['keypoints_3d'][:, 3] == 1).all()
    fit = written['SMPL_NeuralAnnot']['2']['1']['5']
    root = cv2.Rodrigues(rot @ cv2.Rodrigues(np.array(fit['pose'][:3]))[0])
    np.testing.assert_allclose(info['smpl_pose'][:3], root[0].ravel(),
                               atol=1e-5)
    np.testing.assert_allclose(info['smpl_pose'][3:], fit['pose'][3:],
                               rtol=1e-5)
    np.testing.assert_allclose(info['smpl_betas'], fit['shape'], rtol=1e-5)
    # bbox [5, 6, 12, 20] clipped to x2 = 16, y2 = 25; square x1.25
    np.testing.assert_allclose(info['bbox_center'], [10.5, 15.5])
    assert info['bbox_size'] == pytest.approx(19 * 1.25)
    assert info['gender'] == 'neutral' and info['has_smpl'] == 1.


def test_sanitised_boxes_drop_empty_ones():
    boxes = sanitised_boxes(np.array([[-3., 2., 10., 10.], [5., 5., 0., 9.],
                                      [25., 5., 10., 10.]]),
                            np.array([20.] * 3), np.array([30.] * 3))
    np.testing.assert_allclose(boxes[0], [0., 2., 9., 11.])
    assert np.isnan(boxes[1]).all() and np.isnan(boxes[2]).all()


def test_fitting_test_clears_has_smpl(tmp_path, body_model_dir):
    cfg = body_model_cfg(body_model_dir)
    init_default_scope('pointhmr_mm')
    model = MODELS.build(cfg)
    rng = np.random.default_rng(3)
    fits = {}
    for frame, offset in ((0, 0.), (5, 0.03)):  # 0 and 30 mm off
        pose, shape = rng.normal(size=72) * 0.2, rng.normal(size=10)
        trans = rng.normal(size=3) * 0.1
        with torch.no_grad():
            out = model(pose=torch.tensor(pose[None]).float(),
                        betas=torch.tensor(shape[None]).float(),
                        transl=torch.tensor(trans[None]).float())
        world = out['h36m'][0].double().numpy() + [offset, 0., 0.]
        fits[frame] = (pose, shape, trans, world)
    write_h36m(tmp_path, subjects=(1, ), fits={1: fits})
    path = tmp_path / 'annotations' / 'Human36M_subject1_SMPL_NeuralAnnot.json'
    trees = json.loads(path.read_text())
    del trees['2']['1']['10']  # frame 10 has no fit
    path.write_text(json.dumps(trees))
    plain = build(tmp_path, subjects=(1, ))
    assert [plain.get_data_info(i)['has_smpl'] for i in range(6)] == \
        [1., 1., 1., 1., 0., 0.]
    checked = build(tmp_path, subjects=(1, ), body_model=cfg)
    assert [checked.get_data_info(i)['has_smpl'] for i in range(6)] == \
        [1., 1., 0., 0., 0., 0.]
    loose = build(tmp_path, subjects=(1, ), body_model=cfg,
                  fitting_threshold=35.)
    assert [loose.get_data_info(i)['has_smpl'] for i in range(6)] == \
        [1., 1., 1., 1., 0., 0.]


def test_pipeline_and_pickle(tmp_path):
    write_h36m(tmp_path)
    ds = build(tmp_path, subjects=(1, ), pipeline=PIPELINE)
    out = ds[3]
    assert tuple(out['inputs'].shape) == (3, 32, 32)
    assert tuple(out['data_samples'].ori_shape) == H36M_HW
    blob = pickle.dumps(ds)
    assert len(blob) < 20000 and b'act_02' not in blob
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone.get_data_info(4)['keypoints_3d'],
                                  ds.get_data_info(4)['keypoints_3d'])


def test_errors_name_file_key_and_frame(tmp_path):
    written = write_h36m(tmp_path, subjects=(1, ))[1]
    with pytest.raises(ValueError, match='split'):
        build(tmp_path, split='test')
    with pytest.raises(ValueError, match='frame_step'):
        build(tmp_path, frame_step=0)
    ann = tmp_path / 'annotations'
    cams = dict(written['camera'])
    cams['4'] = {k: v for k, v in cams['4'].items() if k != 't'}
    (ann / 'Human36M_subject1_camera.json').write_text(json.dumps(cams))
    with pytest.raises(KeyError, match=r"subject1_camera.json: camera 4 has "
                       r"no key 't'"):
        build(tmp_path, subjects=(1, ))
    (ann / 'Human36M_subject1_camera.json').write_text(
        json.dumps(written['camera']))
    joints = json.loads(json.dumps(written['joint_3d']))
    del joints['2']['1']['5']
    (ann / 'Human36M_subject1_joint_3d.json').write_text(json.dumps(joints))
    with pytest.raises(KeyError, match=r"joint_3d.json: no joints at "
                       r"\['2'\]\['1'\]\['5'\]"):
        build(tmp_path, subjects=(1, ))
    (ann / 'Human36M_subject1_joint_3d.json').unlink()
    with pytest.raises(FileNotFoundError, match='NeuralAnnot_RELEASE'):
        build(tmp_path, subjects=(1, ))
