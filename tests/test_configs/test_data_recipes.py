"""The recipes on today's data (BEDLAM + AGORA; the 2026 mixture) train a
few iterations and run tools/test.py on generated files in the producers'
layouts, with the tiny model on the embedded body in place of
HRNet-W32 and SMPL."""
import re
import shutil

import numpy as np
import pytest
from mmengine.config import Config

from pointhmr_mm.evaluation.metrics import mesh_metric

from toolbox import ROOT, load_tool
from toolbox.datasets import write_human_data, write_jpeg
from toolbox.public_sources import (BEDLAM_SCENE, write_bedlam, write_emdb,
                                    write_h36m)
from toolbox.pw3d import small_pw3d

RECIPES = ('pointhmr_hrnet_w32_bedlam_agora', 'pointhmr_hrnet_w32_mix2026')
CROP = 64  # the tiny model's input


@pytest.fixture(scope='module')
def sources(tmp_path_factory):
    """Every source of both recipes, small, under one folder."""
    root = tmp_path_factory.mktemp('sources')
    write_bedlam(root / 'bedlam')
    write_emdb(root / 'emdb')
    write_h36m(root / 'h36m', subjects=(1, 9))
    small_pw3d(root / '3dpw')
    for name in ('coco', 'mpii'):
        folder = root / 'datasets' / name
        folder.mkdir(parents=True)
        for i in range(3):
            write_jpeg(folder / f'img_{i}.jpg')
        write_human_data(root / f'{name}.npz')
    return root


def _walk(node, visit):
    """Call ``visit`` on every dict of a config tree."""
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _walk(value, visit)


def point_at(cfg, root, body_model: dict) -> None:
    """Data paths to ``root``, crops to the tiny model's, a few samples."""
    paths = {'BedlamDataset': root / 'bedlam', 'EMDBDataset': root / 'emdb',
             'Pw3dDataset': root / '3dpw',
             'H36MNeuralAnnotDataset': root / 'h36m'}

    def visit(node):
        kind = node.get('type')
        if kind == 'SMPL':  # the metric's and the fitting test's
            node.update(body_model)
        elif kind == 'MeshAffineCrop':
            node['crop_size'] = CROP
        elif kind == 'BedlamDataset' and node.get('dataset_name') == 'agora':
            node['data_root'] = str(root / 'bedlam' / 'agora')
        elif kind == 'BedlamDataset':
            node['data_root'] = str(root / 'bedlam')
            node['ann_files'] = [f'labels/{BEDLAM_SCENE}.npz']
        elif kind in paths:
            node['data_root'] = str(paths[kind])
        if kind == 'H36MNeuralAnnotDataset':
            node['subjects'] = (1, ) if node['split'] == 'train' else (9, )
        elif kind == 'HumanDataDataset':
            name = node['dataset_name'].split('_')[0]
            node['ann_file'] = str(root / f'{name}.npz')
            node['data_prefix'] = dict(img=str(root / 'datasets' / name))
        elif kind == 'MixedMeshDataset':
            node['num_samples'] = 4

    _walk(cfg._cfg_dict, visit)


def quick_config(name, sources, tiny_checkpoint, work_dir) -> str:
    cfg = Config.fromfile(str(ROOT / 'configs' / f'{name}.py'))
    tiny = Config.fromfile(str(tiny_checkpoint[0])).model
    cfg.model = tiny
    point_at(cfg, sources, tiny.mesh_targets.body_model.to_dict())
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    # one epoch of 2-3 iterations; tools/test.py covers the val sets
    cfg.train_cfg.update(max_epochs=1, val_interval=2)
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    path = work_dir / f'{name}.py'
    cfg.dump(str(path))
    return str(path)


@pytest.mark.slow
@pytest.mark.parametrize('name', RECIPES)
def test_recipe_trains_and_tests(name, sources, tiny_checkpoint, tmp_path):
    protocols = ('3dpw', 'emdb') if 'bedlam' in name else ('h36m_p2', '3dpw')
    missing = set(protocols) - set(mesh_metric.PROTOCOLS)
    if missing:
        pytest.skip(f'MeshMetric has no {sorted(missing)} protocol')
    config = quick_config(name, sources, tiny_checkpoint, tmp_path)
    load_tool('train').main([config, '--work-dir', str(tmp_path / 'train')])
    ckpt = tmp_path / 'train' / 'epoch_1.pth'
    assert ckpt.is_file()
    load_tool('test').main([config, str(ckpt), '--work-dir',
                            str(tmp_path / 'test')])
    logs = sorted((tmp_path / 'test').rglob('*.log'))
    text = logs[-1].read_text()
    for protocol in protocols:
        assert f'mesh/{protocol}/PA-MPJPE' in text
    values = [float(v) for v in re.findall(r'PA-MPJPE: ([0-9.]+)', text)]
    assert values and np.isfinite(values).all()


@pytest.mark.parametrize('name', RECIPES)
def test_recipe_wiring(name):
    """Train on the sources the recipe names; a mixture that redraws its
    subsets each epoch has workers forked anew; the metric builds the GT
    with the model's body model."""
    cfg = Config.fromfile(str(ROOT / 'configs' / f'{name}.py'))
    train = cfg.train_dataloader
    kinds = [d.type for d in train.dataset.datasets]
    if 'bedlam' in name:
        assert train.dataset.type == 'ConcatDataset'
        assert kinds == ['BedlamDataset', 'BedlamDataset']
        assert cfg.val_dataloader.dataset.type == 'Pw3dDataset'
    else:
        assert train.dataset.type == 'MixedMeshDataset'
        assert kinds == ['H36MNeuralAnnotDataset', 'BedlamDataset',
                         'HumanDataDataset', 'HumanDataDataset']
        assert sum(train.dataset.partition) == pytest.approx(1.)
        assert {'type': 'DatasetSetEpochHook'} in cfg.custom_hooks
        assert not train.persistent_workers
        assert cfg.val_dataloader.dataset.split == 'test_p2'
        assert train.dataset.datasets[0].body_model == \
            cfg.model.mesh_targets.body_model
    assert cfg.test_evaluator.body_model == cfg.model.mesh_targets.body_model
    tests = [d.type for d in cfg.test_dataloader.dataset.datasets]
    assert 'Pw3dDataset' in tests
    assert ('EMDBDataset' in tests) == ('bedlam' in name)


# Per recipe: a source file to delete, one to corrupt, and how the report
# names the deleted one (3DPW reads a folder of sequence files, so the
# folder left empty is what is missing).
BROKEN_FILES = {
    'pointhmr_hrnet_w32_bedlam_agora': (
        'bedlam/agora/agora.npz',
        'emdb/P1/14_outdoor_climb/P1_14_outdoor_climb_data.pkl',
        'bedlam/agora/agora.npz'),
    'pointhmr_hrnet_w32_mix2026': (
        'coco.npz', 'h36m/annotations/Human36M_subject9_joint_3d.json',
        'coco.npz'),
    'pointhmr_hrnet_w32_3dpw_ft': (
        '3dpw/sequenceFiles/train/courtyard_train_00.pkl',
        '3dpw/sequenceFiles/test/downtown_test_00.pkl',
        '3dpw/sequenceFiles/train: no .pkl sequence files'),
}


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(BROKEN_FILES))
def test_check_data_names_a_missing_and_a_malformed_file(
        name, sources, tiny_checkpoint, tmp_path, capsys):
    broken = tmp_path / 'sources'
    shutil.copytree(sources, broken)
    gone, corrupt, named = BROKEN_FILES[name]
    (broken / gone).unlink()
    (broken / corrupt).write_bytes(b'not what the producer writes')
    config = quick_config(name, broken, tiny_checkpoint, tmp_path)
    code = load_tool('misc/check_data').main([config, '--num-samples', '2'])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 1, text[-3000:]
    assert f'{broken}/{named}' in text, text[-3000:]
    assert f'{broken}/{corrupt}' in text, text[-3000:]
