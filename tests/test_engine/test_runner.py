"""PointHMRRunner: exact resumption, RNG states, atomic checkpoint files,
auto-resume (in this process; tools/train.py is tested in test_tools)."""
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import Hook

from pointhmr_mm.engine import (PointHMRRunner, build_runner, get_rng_states,
                                set_rng_states)
from pointhmr_mm.setup_env import register_all_modules
from pointhmr_mm.utils.atomic_io import write_atomically

from toolbox.toy import toy_cfg

register_all_modules()


class Stop(Exception):
    """Ends a run, like a kill, right after a checkpoint."""


class StopAfterEpoch(Hook):
    priority = 'LOWEST'  # after the checkpoint hook

    def after_train_epoch(self, runner):
        raise Stop


def train(work_dir, name, **overrides):
    runner = build_runner(toy_cfg(work_dir, name, **overrides))
    runner.train()
    return runner


def weights(path):
    return torch.load(path, map_location='cpu',
                      weights_only=True)['state_dict']


def draws():
    return (random.random(), np.random.rand(), torch.rand(1).item())


def test_rng_states_round_trip_and_missing_keys():
    states = get_rng_states()
    first = draws()
    set_rng_states(states)
    assert draws() == first
    with pytest.raises(KeyError, match='numpy'):
        set_rng_states(dict(python=states['python'], torch=states['torch']))


def test_build_runner_defaults_to_pointhmr_runner(tmp_path):
    cfg = toy_cfg(tmp_path, 'build_default')
    cfg.pop('runner_type')
    assert type(build_runner(cfg)) is PointHMRRunner


@pytest.mark.slow
def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path):
    full = tmp_path / 'full'
    train(full, 'full')
    cut = tmp_path / 'cut'
    runner = build_runner(toy_cfg(cut, 'cut'))
    runner.register_hook(StopAfterEpoch())
    with pytest.raises(Stop):
        runner.train()
    assert not (cut / 'epoch_2.pth').exists()
    saved = torch.load(cut / 'epoch_1.pth', weights_only=True)
    assert len(saved['meta']['rng_states']) == 1  # one process
    plain = tmp_path / 'plain'
    plain.mkdir()
    (plain / 'epoch_1.pth').write_bytes((cut / 'epoch_1.pth').read_bytes())
    resumed = train(cut, 'resumed', resume=True)
    assert resumed.epoch == 2
    a, b = weights(full / 'epoch_2.pth'), weights(cut / 'epoch_2.pth')
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    # mmengine's own Runner resumes too, but not exactly: the generators
    # continue from wherever the new process left them
    train(plain, 'plain', runner_type='Runner',
          load_from=str(plain / 'epoch_1.pth'), resume=True)
    c = weights(plain / 'epoch_2.pth')
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.slow
def test_validation_leaves_the_generators_alone(tmp_path):
    runner = train(tmp_path, 'val_rng', train_cfg=dict(max_epochs=1))
    states = get_rng_states()
    runner.val_loop.run()
    after = get_rng_states()
    assert torch.equal(after['torch'], states['torch'])
    assert after['python'] == states['python']


@pytest.mark.slow
@pytest.mark.parametrize('failing', ['torch.save', 'file write'])
def test_crash_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch,
                                                     failing):
    runner = train(tmp_path, f'crash_{failing}',
                   train_cfg=dict(max_epochs=1))
    good = (tmp_path / 'epoch_1.pth').read_bytes()
    pointer = (tmp_path / 'last_checkpoint').read_text()
    real_save, real_put = torch.save, LocalBackend.put

    def broken_save(obj, f, *args, **kwargs):
        real_save({'partial': torch.zeros(8)}, f)
        raise OSError('disk full')

    def broken_put(self, obj, filepath):
        real_put(self, obj[:len(obj) // 2], filepath)  # half a file
        raise OSError('disk full')

    if failing == 'torch.save':
        monkeypatch.setattr(torch, 'save', broken_save)
    else:
        monkeypatch.setattr(LocalBackend, 'put', broken_put)
    hook = next(h for h in runner.hooks
                if type(h).__name__ == 'SafeCheckpointHook')
    with pytest.raises(OSError, match='disk full'):
        hook._save_checkpoint_with_step(runner, 1, dict(epoch=1))
    with pytest.raises(OSError, match='disk full'):
        hook._save_checkpoint_with_step(runner, 2, dict(epoch=2))
    assert (tmp_path / 'epoch_1.pth').read_bytes() == good
    assert (tmp_path / 'last_checkpoint').read_text() == pointer
    files = {p.name for p in tmp_path.iterdir() if p.is_file()}
    assert files == {'epoch_1.pth', 'last_checkpoint', 'toy_config.py'}


def test_write_atomically_leaves_target_untouched_on_error(tmp_path):
    target = tmp_path / 'out.bin'
    target.write_bytes(b'old')

    def write(path):
        Path(path).write_bytes(b'ne')
        raise RuntimeError('killed')

    with pytest.raises(RuntimeError, match='killed'):
        write_atomically(str(target), write)
    assert target.read_bytes() == b'old'
    assert [p.name for p in tmp_path.iterdir()] == ['out.bin']
    write_atomically(str(target), lambda p: Path(p).write_bytes(b'new'))
    assert target.read_bytes() == b'new'


@pytest.mark.slow
def test_auto_resume_follows_a_moved_work_dir(tmp_path):
    old = tmp_path / 'old'
    train(old, 'moved_src', train_cfg=dict(max_epochs=1))
    new = tmp_path / 'new'
    old.rename(new)  # the pointer still names old/epoch_1.pth
    runner = train(new, 'moved_dst', resume=True)
    assert runner.epoch == 2
    assert (new / 'last_checkpoint').read_text() == str(new / 'epoch_2.pth')


@pytest.mark.slow
def test_auto_resume_without_or_with_a_broken_pointer(tmp_path):
    runner = train(tmp_path, 'fresh', resume=True,
                   train_cfg=dict(max_epochs=1))
    assert runner.epoch == 1  # no pointer: started from the beginning
    (tmp_path / 'epoch_1.pth').unlink()
    (tmp_path / 'last_checkpoint').write_text('/nowhere/epoch_1.pth')
    with pytest.raises(FileNotFoundError, match='last_checkpoint names'):
        train(tmp_path, 'broken', resume=True)


@pytest.mark.slow
def test_config_in_the_work_dir_is_not_overwritten(tmp_path):
    train(tmp_path, 'dump_src', train_cfg=dict(max_epochs=1))
    source = tmp_path / 'toy_config.py'  # the dumped, self-contained config
    source.write_text(source.read_text() + '# edited by hand\n')
    before = source.read_bytes()
    cfg = Config.fromfile(str(source))
    cfg.experiment_name = 'dump_again'
    cfg.visualizer.name = 'dump_again'
    runner = build_runner(cfg)
    assert source.read_bytes() == before
    assert (Path(runner.log_dir) / 'toy_config.py').is_file()


def test_runner_applies_env_cfg_malloc_cfg(tmp_path, monkeypatch):
    import pointhmr_mm.engine.runner as runner_module
    seen = []
    monkeypatch.setattr(runner_module, 'configure_malloc_from_cfg',
                        lambda cfg: seen.append(cfg) or {})
    cfg = toy_cfg(tmp_path, 'malloc')
    cfg.env_cfg = dict(malloc_cfg=dict(trim_threshold=2**30))
    build_runner(cfg)
    assert seen == [dict(trim_threshold=2**30)]


def test_runner_refuses_a_bad_malloc_cfg(tmp_path):
    cfg = toy_cfg(tmp_path, 'bad_malloc')
    cfg.env_cfg = dict(malloc_cfg=dict(trim=1))
    with pytest.raises(ValueError, match='malloc_cfg has unknown keys'):
        build_runner(cfg)
