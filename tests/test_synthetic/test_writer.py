import socket

import cv2
import numpy as np
import pytest
import torch

import pointhmr_mm.synthetic.writer as writer
from pointhmr_mm.datasets import HumanDataDataset
from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.synthetic import (FOCAL_PER_SIDE, ensure_synthetic_dataset,
                                   stored_settings, write_split)
from pointhmr_mm.synthetic.writer import GENERATOR_VERSION
from pointhmr_mm.setup_env import register_all_modules
from pointhmr_mm.utils.keypoints import H36M_TO_J14
from pointhmr_mm.utils.safe_pickle import load_npz

from toolbox import load_tool
from toolbox.datasets import PIPELINE

register_all_modules()
SIZE = 64


@pytest.fixture(scope='module')
def split(tmp_path_factory, body_model_dir):
    out = tmp_path_factory.mktemp('synthetic')
    ann = write_split(out, 'val', 4, body_model_dir, image_size=SIZE, seed=3)
    return out, ann


def test_reloads_with_consistent_labels(split):
    out, ann = split
    ds = HumanDataDataset(str(ann), data_prefix=dict(img=str(out)),
                          pipeline=[], bbox_scale=1.0)
    assert len(ds) == 4
    focal = FOCAL_PER_SIDE * SIZE
    for i in range(4):
        info = ds.get_data_info(i)
        kp2d, kp3d = info['keypoints_2d'], info['keypoints_3d']
        assert (kp2d[:, 2] == 1).all() and (kp3d[:, 3] == 1).all()
        # projected joints lie in the box of the projected mesh
        half = info['bbox_size'] / 2 + 1e-3
        assert (np.abs(kp2d[:, :2] - info['bbox_center']) <= half).all()
        # the 2D labels are the 3D labels seen through the camera
        proj = focal * kp3d[:, :2] / kp3d[:, 2:3] + SIZE / 2
        np.testing.assert_allclose(kp2d[:, :2], proj, atol=1e-2)
        assert info['has_smpl'] == 1
        img = cv2.imread(info['img_path'])
        assert img.shape == (SIZE, SIZE, 3) and img.std() > 5


def test_smpl_labels_reproduce_the_joints(split, body_model_dir):
    out, ann = split
    data = load_npz(ann)
    smpl, genders = data['smpl'].item(), data['meta'].item()['gender']
    assert data['keypoints3d'].shape == (4, 14, 4)  # stored compressed
    ds = HumanDataDataset(str(ann), data_prefix=dict(img=str(out)),
                          pipeline=[])
    for i in range(4):
        gender = dict(n='neutral', m='male', f='female')[genders[i]]
        body = SMPL(str(body_model_dir), gender=gender,
                    joint_regressors=dict(
                        h36m=str(body_model_dir / 'J_regressor_h36m.npy')))
        with torch.no_grad():
            posed = body(
                betas=torch.as_tensor(smpl['betas'][i:i + 1]),
                body_pose=torch.as_tensor(smpl['body_pose'][i:i + 1])
                .reshape(1, 69),
                global_orient=torch.as_tensor(
                    smpl['global_orient'][i:i + 1]),
                transl=torch.as_tensor(smpl['transl'][i:i + 1]))
        joints = posed['h36m'][0, list(H36M_TO_J14)].numpy()
        np.testing.assert_allclose(ds.get_data_info(i)['keypoints_3d'][:, :3],
                                   joints, atol=1e-4)
        assert ds.get_data_info(i)['gender'] == gender


def test_val_split_goes_through_the_pipeline(split):
    out, ann = split
    ds = HumanDataDataset(str(ann), data_prefix=dict(img=str(out)),
                          pipeline=PIPELINE, test_mode=True,
                          eval_protocol='3dpw', dataset_name='synthetic')
    sample = ds[1]['data_samples']
    assert sample.eval_protocol == '3dpw' and float(sample.has_smpl) == 1
    assert sample.gt_keypoints_2d[:, :2].abs().max() <= 1.


def test_deterministic_and_refuses_to_overwrite(split, body_model_dir,
                                                tmp_path):
    out, ann = split
    again = write_split(tmp_path, 'val', 2, body_model_dir, image_size=SIZE,
                        seed=3)
    first, second = load_npz(ann), load_npz(again)
    np.testing.assert_array_equal(first['keypoints2d'][:2],
                                  second['keypoints2d'])
    assert (out / 'images/val/000001.jpg').read_bytes() == \
        (tmp_path / 'images/val/000001.jpg').read_bytes()
    with pytest.raises(FileExistsError, match='val.npz exists'):
        write_split(tmp_path, 'val', 2, body_model_dir, image_size=SIZE)
    with pytest.raises(ValueError, match='num must be positive'):
        write_split(tmp_path, 'train', 0, body_model_dir)
    # no half-written annotation file is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ['images',
                                                           'val.npz']


def test_worker_processes_render_the_same_split(split, body_model_dir,
                                               tmp_path, monkeypatch):
    out, ann = split
    monkeypatch.setattr(writer, 'CHUNK_SIZE', 1)  # a job per sample
    again = write_split(tmp_path, 'val', 4, body_model_dir, image_size=SIZE,
                        seed=3, num_workers=2)
    np.testing.assert_array_equal(load_npz(ann)['keypoints3d'],
                                  load_npz(again)['keypoints3d'])
    for i in range(4):
        assert (out / f'images/val/{i:06d}.jpg').read_bytes() == \
            (tmp_path / f'images/val/{i:06d}.jpg').read_bytes()
    with pytest.raises(ValueError, match='num_workers'):
        write_split(tmp_path, 'train', 1, body_model_dir, num_workers=0)


def test_ensure_and_tool(body_model_dir, tmp_path):
    paths = ensure_synthetic_dataset(tmp_path, body_model_dir, num_train=2,
                                     num_val=1, seed=0, image_size=SIZE)
    stamp = paths['train'].stat().st_mtime_ns
    ensure_synthetic_dataset(tmp_path, body_model_dir, 2, 1, image_size=SIZE)
    assert paths['train'].stat().st_mtime_ns == stamp  # kept, not redone
    tool = load_tool('make_synthetic_dataset')
    args = ['--body-model', str(body_model_dir), '--out', str(tmp_path),
            '--num-train', '1', '--num-val', '1', '--image-size', str(SIZE)]
    assert tool.main(args) == 1  # both splits exist
    assert paths['train'].stat().st_mtime_ns == stamp
    assert tool.main(args + ['--overwrite', '--background-shapes', '0',
                             '1']) == 0
    assert len(load_npz(paths['train'])['image_path']) == 1
    assert stored_settings(paths['train'])['background_shapes'] == [0, 1]
    assert not (tmp_path / 'images/train/000001.jpg').exists()
    grid = tmp_path / 'grid.jpg'
    assert tool.main(args + ['--overwrite', '--grid', str(grid),
                             '--grid-shape', '1', '2']) == 0
    assert cv2.imread(str(grid)).shape == (SIZE, 2 * SIZE, 3)


def test_settings_are_recorded_and_checked(split, body_model_dir, tmp_path,
                                           monkeypatch):
    _, ann = split
    assert stored_settings(ann) == dict(
        version=GENERATOR_VERSION, num=4, image_size=SIZE, seed=3,
        max_heading_deg=180., background_shapes=[2, 8])
    scene = dict(max_heading_deg=30., background_shapes=(0, 2))
    paths = ensure_synthetic_dataset(tmp_path, body_model_dir, 2, 1, seed=5,
                                     image_size=SIZE, **scene)
    assert stored_settings(paths['val']) == dict(
        version=GENERATOR_VERSION, num=1, image_size=SIZE, seed=6,
        max_heading_deg=30., background_shapes=[0, 2])
    messages = []
    monkeypatch.setattr(writer, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    before = paths['train'].read_bytes()
    ensure_synthetic_dataset(tmp_path, body_model_dir, 2, 1, seed=5,
                             image_size=SIZE, **scene)
    assert not any('not made with' in m for m in messages)
    ensure_synthetic_dataset(tmp_path, body_model_dir, 2, 1, seed=5,
                             image_size=SIZE, max_heading_deg=30.)
    assert sum('not made with' in m for m in messages) == 2
    assert paths['train'].read_bytes() == before  # kept, never replaced


def test_generation_makes_no_network_access(body_model_dir, tmp_path,
                                            monkeypatch):
    """The body (from the package's archive) and the data, sockets
    blocked."""
    from pointhmr_mm.models.body_models.embedded import write_embedded_body

    def refuse(*args, **kwargs):
        raise AssertionError('network access attempted')

    monkeypatch.setattr(socket, 'socket', refuse)
    monkeypatch.setattr(socket, 'create_connection', refuse)
    body_dir = tmp_path / 'body'
    write_embedded_body(body_dir, num_vertices=300)
    paths = ensure_synthetic_dataset(tmp_path / 'data', body_dir, 2, 1,
                                     image_size=32)
    assert all(p.is_file() for p in paths.values())
