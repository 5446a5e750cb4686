"""A run interrupted mid-epoch and resumed ends with exactly the weights of
an uninterrupted one, with persistent DataLoader workers that augment."""
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from pointhmr_mm.engine import allow_mmengine_checkpoints, build_runner
from pointhmr_mm.setup_env import register_all_modules

register_all_modules()
allow_mmengine_checkpoints()


class Stop(Exception):
    """Ends the run where a kill would."""


class StopInSecondEpoch(Hook):

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.epoch == 1 and batch_idx == 0:
            raise Stop


def config(tiny_run, work_dir, name):
    cfg = Config.fromfile(str(tiny_run[0]))
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = name
    cfg.visualizer.name = name
    cfg.train_cfg.max_epochs = 2
    cfg.train_dataloader.update(num_workers=1, persistent_workers=True)
    return cfg


def final_weights(work_dir):
    return torch.load(work_dir / 'epoch_2.pth', map_location='cpu',
                      weights_only=True)['state_dict']


@pytest.mark.slow
def test_resume_mid_epoch_with_persistent_workers_is_exact(tiny_run,
                                                           tmp_path):
    build_runner(config(tiny_run, tmp_path / 'full', 'exact_full')).train()
    cut = build_runner(config(tiny_run, tmp_path / 'cut', 'exact_cut'))
    loader = cut.cfg.train_dataloader
    assert loader.persistent_workers and loader.num_workers == 1
    cut.register_hook(StopInSecondEpoch())
    with pytest.raises(Stop):
        cut.train()
    assert not (tmp_path / 'cut' / 'epoch_2.pth').exists()
    resumed = config(tiny_run, tmp_path / 'cut', 'exact_resumed')
    resumed.resume = True
    build_runner(resumed).train()
    full, again = final_weights(tmp_path / 'full'), final_weights(
        tmp_path / 'cut')
    assert full.keys() == again.keys()
    differ = [k for k in full if not torch.equal(full[k], again[k])]
    assert not differ, f'{len(differ)} of {len(full)} tensors differ'
