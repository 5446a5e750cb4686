"""Exact resumption, safe loading and atomic checkpoints, through
tools/train.py and the Runner."""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import pointhmr_mm.engine  # noqa: F401  (allow-lists mmengine types)

ROOT = Path(__file__).parents[2]
TOY = ROOT / 'tests' / 'data' / 'toy'
CONFIG = TOY / 'toy_config.py'


class Crash:
    """Pickles as an object of this test module, which safe loading must
    refuse."""


def train(work_dir, *extra, config=CONFIG):
    env = dict(os.environ, PYTHONPATH=f'{TOY}{os.pathsep}'
               f'{os.environ.get("PYTHONPATH", "")}')
    cmd = [sys.executable, str(ROOT / 'tools' / 'train.py'), str(config),
           '--work-dir', str(work_dir), *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=300)


def weights(work_dir, epoch):
    ckpt = torch.load(Path(work_dir) / f'epoch_{epoch}.pth',
                      map_location='cpu', weights_only=True)
    return ckpt['state_dict']


def test_killed_and_resumed_run_ends_with_the_same_weights(tmp_path):
    full = train(tmp_path / 'full')
    assert full.returncode == 0, full.stderr[-2000:]
    killed = train(tmp_path / 'cut',
                   config=TOY / 'toy_config_killed.py')
    assert killed.returncode != 0
    assert (tmp_path / 'cut' / 'epoch_1.pth').exists()
    assert not (tmp_path / 'cut' / 'epoch_2.pth').exists()
    resumed = train(tmp_path / 'cut', '--resume')
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert 'Load checkpoint from' in resumed.stdout + resumed.stderr
    a, b = weights(tmp_path / 'full', 2), weights(tmp_path / 'cut', 2)
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    # max_keep_ckpts=1: only the newest is left, and it is complete
    assert not (tmp_path / 'cut' / 'epoch_1.pth').exists()
    pointer = (tmp_path / 'cut' / 'last_checkpoint').read_text()
    assert pointer.endswith('epoch_2.pth')


def test_checkpoints_load_safely_and_foreign_objects_are_refused(tmp_path):
    run = train(tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    ckpt = torch.load(tmp_path / 'epoch_2.pth', weights_only=True)
    assert len(ckpt['meta']['rng_states']) == 1
    evil = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, meta=dict(x=Crash())), evil)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(evil, weights_only=True)


def test_crash_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    from mmengine.config import Config

    from pointhmr_mm.engine import PointHMRRunner
    from pointhmr_mm.utils import register_all_modules
    register_all_modules()
    sys.path.insert(0, str(TOY))
    cfg = Config.fromfile(str(CONFIG))
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.max_epochs = 1
    runner = PointHMRRunner.from_cfg(cfg)
    runner.train()
    good = (tmp_path / 'epoch_1.pth').read_bytes()
    pointer = (tmp_path / 'last_checkpoint').read_text()

    real_save = torch.save

    def crash(obj, f, *args, **kwargs):
        real_save({'partial': 1}, f)
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', crash)
    hook = [h for h in runner.hooks
            if type(h).__name__ == 'SafeCheckpointHook'][0]
    with pytest.raises(OSError, match='disk full'):
        hook._save_checkpoint_with_step(runner, 1, {})
    assert (tmp_path / 'epoch_1.pth').read_bytes() == good
    assert (tmp_path / 'last_checkpoint').read_text() == pointer
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_1.pth']
