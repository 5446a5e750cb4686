"""Safe loading (torch.load weights_only=True) of mmengine checkpoints."""
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from pointhmr_mm.engine import build_runner, checkpoint_safe_globals
from pointhmr_mm.engine.safe_load import history_buffer_statistic
from pointhmr_mm.setup_env import register_all_modules

from toolbox.toy import toy_cfg

register_all_modules()


class Foreign:
    """A class no allow-list names."""


class ArrayMethod:
    """Pickles as getattr(numpy.ndarray, 'tofile'): an allowed class, but
    not a HistoryBuffer statistic."""

    def __reduce__(self):
        return getattr, (np.ndarray, 'tofile')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('safe_load')
    build_runner(toy_cfg(work_dir, 'safe_load',
                         train_cfg=dict(max_epochs=1))).train()
    return work_dir / 'epoch_1.pth'


@pytest.mark.slow
def test_runner_checkpoint_loads_safely(checkpoint):
    assert torch.serialization.get_unsafe_globals_in_checkpoint(
        checkpoint) == []
    ckpt = torch.load(checkpoint, weights_only=True)
    buffers = ckpt['message_hub']['log_scalars']
    assert isinstance(buffers['train/loss'], HistoryBuffer)
    assert np.isfinite(buffers['train/loss'].mean())
    assert isinstance(ckpt['meta']['rng_states'][0]['numpy'][1], np.ndarray)


@pytest.mark.slow
def test_fresh_process_loads_it(checkpoint):
    """No HistoryBuffer exists yet there (mmengine registers its statistics
    methods on first use)."""
    code = ('import sys, torch, pointhmr_mm.engine; '
            'torch.load(sys.argv[1], weights_only=True)')
    run = subprocess.run([sys.executable, '-c', code, str(checkpoint)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]


@pytest.mark.slow
def test_plain_mmengine_checkpoint_resumes(checkpoint, tmp_path):
    """Resuming loads through mmengine's own loader (torch.load defaults)."""
    runner = build_runner(toy_cfg(
        tmp_path, 'safe_resume', load_from=str(checkpoint), resume=True,
        runner_type='Runner'))
    runner.train()
    assert runner.epoch == 2


@pytest.mark.parametrize('payload', [Foreign(), ArrayMethod()])
def test_other_objects_are_still_refused(tmp_path, payload):
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, meta=dict(x=payload)), path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


def test_getattr_stand_in_only_gives_statistics():
    assert history_buffer_statistic(HistoryBuffer, 'mean') is \
        HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError, match='__init__'):
        history_buffer_statistic(HistoryBuffer, '__init__')
    with pytest.raises(pickle.UnpicklingError, match='tofile'):
        history_buffer_statistic(np.ndarray, 'tofile')


def test_allow_list_is_exact():
    names = {g[1] if isinstance(g, tuple) else g.__name__
             for g in checkpoint_safe_globals()}
    assert {'HistoryBuffer', 'builtins.getattr', 'ndarray', 'dtype',
            '_reconstruct', 'scalar', 'Float64DType'} <= names
    assert not any(name in names for name in ('eval', 'exec', 'system'))
