"""Training sets say at build which losses their labels cannot drive, and
the data doctor (tools/misc/check_data.py) prints it per dataset, with each
dataset class's DOWNLOAD_HINT for its missing files."""
import numpy as np
import pytest
from mmengine.config import Config

import pointhmr_mm.datasets.base_mesh_dataset as base_mesh_dataset
from pointhmr_mm.apis.data_doctor import DataDoctor
from pointhmr_mm.datasets import HumanDataDataset
from pointhmr_mm.registry import DATASETS
from pointhmr_mm.setup_env import register_all_modules
from toolbox.datasets import PIPELINE, write_human_data_split

register_all_modules()


@DATASETS.register_module(force=True)
class HintedHumanData(HumanDataDataset):
    DOWNLOAD_HINT = 'fetch it from the example site into data/example/'


def split_without(tmp_path, *keys):
    """A HumanData split whose file lacks ``keys``."""
    npz, img_dir = write_human_data_split(tmp_path / 'split', count=4)
    with np.load(npz, allow_pickle=True) as data:
        kept = {k: data[k] for k in data.files if k not in keys}
    np.savez(npz, **kept)
    return npz, img_dir


@pytest.fixture
def warnings_logged(monkeypatch):
    messages = []
    monkeypatch.setattr(base_mesh_dataset, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    return messages


def build(npz, img_dir, **kwargs):
    return HumanDataDataset(ann_file=str(npz), dataset_name='mine',
                            data_prefix=dict(img=str(img_dir)),
                            pipeline=PIPELINE, **kwargs)


def test_file_without_smpl_warns_once_naming_the_losses(tmp_path,
                                                        warnings_logged):
    npz, img_dir = split_without(tmp_path, 'smpl')
    dataset = build(npz, img_dir)
    assert dataset.supervision() == dict(vertices=False, heatmap=False,
                                         joints_3d=True, joints_2d=True)
    message, = warnings_logged
    assert 'mine' in message and str(npz) in message
    for loss in ('loss_vertices', 'loss_heatmap', 'loss_dice'):
        assert loss in message
    assert 'loss_joints_3d' not in message


def test_file_without_keypoints3d_warns_about_3d_joints(tmp_path,
                                                        warnings_logged):
    npz, img_dir = split_without(tmp_path, 'keypoints3d')
    assert build(npz, img_dir).supervision()['joints_3d'] is False
    message, = warnings_logged
    assert 'loss_joints_3d' in message and 'loss_vertices' not in message


def test_full_labels_and_test_sets_stay_quiet(tmp_path, warnings_logged):
    npz, img_dir = write_human_data_split(tmp_path / 'full', count=4)
    assert all(build(npz, img_dir).supervision().values())
    bare, bare_dir = split_without(tmp_path, 'smpl')
    build(bare, bare_dir, test_mode=True)  # evaluation: nothing to warn
    assert warnings_logged == []


def test_generic_supervision_reads_the_samples(tmp_path):
    npz, img_dir = split_without(tmp_path, 'smpl')
    dataset = build(npz, img_dir)
    assert base_mesh_dataset.BaseMeshDataset.supervision(dataset) == \
        dataset.supervision()


def doctor(train_dataset):
    cfg = Config(dict(default_scope='pointhmr_mm', model=dict(),
                      train_dataloader=dict(dataset=train_dataset)))
    lines = []
    found = DataDoctor(cfg, num_samples=2, log=lines.append)
    found.check_paths()
    found.check_dataset('train')
    return found.problems, lines


def test_doctor_prints_what_each_dataset_supervises(tmp_path):
    npz, img_dir = split_without(tmp_path, 'smpl')
    _, lines = doctor(dict(type='HumanDataDataset', ann_file=str(npz),
                           dataset_name='mine', pipeline=PIPELINE,
                           data_prefix=dict(img=str(img_dir))))
    note, = [line for line in lines if 'supervises' in line]
    assert note.startswith('note') and 'mine' in note
    assert 'supervises: joints_3d, joints_2d' in note
    assert 'no labels for vertices, heatmap' in note


def test_doctor_names_the_dataset_classes_download_hint(tmp_path):
    problems, _ = doctor(dict(type='HintedHumanData', pipeline=PIPELINE,
                              ann_file=str(tmp_path / 'absent.npz')))
    problem, = problems
    assert 'absent.npz' in str(problem)
    assert problem.hint == HintedHumanData.DOWNLOAD_HINT
