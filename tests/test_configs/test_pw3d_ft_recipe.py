"""The W32 3DPW fine-tune recipe trains a few iterations and runs
tools/test.py on 3DPW sequence files generated in the release's layout,
with the tiny model on the embedded body in place of HRNet-W32 and SMPL."""
import re

import numpy as np
import pytest
from mmengine.config import Config

from toolbox import ROOT, load_tool
from toolbox.pw3d import small_pw3d

CONFIG = ROOT / 'configs' / 'pointhmr_hrnet_w32_3dpw_ft.py'
CROP = 64  # the tiny model's input


def test_recipe_is_the_released_fine_tuning():
    cfg = Config.fromfile(str(CONFIG))
    assert cfg.train_cfg.max_epochs == 5
    assert cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.optim_wrapper.optimizer.weight_decay == 0
    [step] = cfg.param_scheduler
    assert step.type == 'MultiStepLR' and step.milestones == [3]
    # the released adjust_learning_rate: x0.1 once epoch // (5 / 2) >= 1
    assert [int(e // (5 / 2)) for e in range(5)] == [0, 0, 0, 1, 1]
    assert cfg.train_dataloader.batch_size * 2 == \
        cfg.auto_scale_lr.base_batch_size
    train, test = cfg.train_dataloader.dataset, cfg.test_dataloader.dataset
    assert (train.type, train.split) == ('Pw3dDataset', 'train')
    assert (test.split, test.eval_protocol) == ('test', '3dpw')
    assert cfg.model.backbone.arch == 'w32'
    assert cfg.model.backbone.init_cfg[-1].type == \
        'pointhmr_mm.PretrainedIfExists'
    assert cfg.test_evaluator.body_model.type == 'SMPL'


def test_pretraining_schedule_is_the_released_one():
    cfg = Config.fromfile(str(ROOT / 'configs' / 'pointhmr_hrnet_w32.py'))
    assert cfg.optim_wrapper.optimizer.lr == 1e-5
    assert cfg.train_cfg.max_epochs == 60
    assert cfg.param_scheduler[0].milestones == [30]
    assert cfg.auto_scale_lr.base_batch_size == 24


def quick_config(sources, tiny_checkpoint, work_dir) -> str:
    cfg = Config.fromfile(str(CONFIG))
    tiny = Config.fromfile(str(tiny_checkpoint[0])).model
    cfg.model = tiny
    body_model = tiny.mesh_targets.body_model.to_dict()
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.data_root = str(sources)
        loader.dataset.indices = 4  # 2 iterations a split
        for step in loader.dataset.pipeline:
            if step.type == 'MeshAffineCrop':
                step.crop_size = CROP
    for split in ('val', 'test'):
        cfg[f'{split}_evaluator'].body_model = body_model
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    path = work_dir / 'pw3d_ft.py'
    cfg.dump(str(path))
    return str(path)


@pytest.mark.slow
def test_recipe_trains_and_tests_on_3dpw_files(tiny_checkpoint, tmp_path):
    sources = small_pw3d(tmp_path / '3dpw')
    config = quick_config(sources, tiny_checkpoint, tmp_path)
    load_tool('train').main([config, '--work-dir', str(tmp_path / 'train')])
    ckpt = tmp_path / 'train' / 'epoch_1.pth'
    assert ckpt.is_file()
    load_tool('test').main([config, str(ckpt), '--work-dir',
                            str(tmp_path / 'test')])
    text = sorted((tmp_path / 'test').rglob('*.log'))[-1].read_text()
    values = [float(v) for v in re.findall(r'mesh/PA-MPJPE: ([0-9.]+)',
                                           text)]
    assert values and np.isfinite(values).all()
    assert re.search(r'mesh/MPVE: [0-9.]+', text)
