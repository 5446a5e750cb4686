"""Fault injection: the toy run killed (SIGKILL) at random points -- after
a step, while a checkpoint is written, between a checkpoint's rename and
its pointer -- and resumed with ``tools/train.py --resume`` ends with the
uninterrupted run's weights and checkpoint files, and no partial file."""
import random
import signal

import pytest
import torch

from pointhmr_mm.engine import allow_mmengine_checkpoints
from toolbox.toy import CONFIG, run_toy

pytestmark = pytest.mark.slow
allow_mmengine_checkpoints()

EPOCHS = 3
STEPS = EPOCHS * 4  # 16 toy samples, batch 4
# epoch checkpoints, plus a re-save after each new best
MAX_SAVES = 2 * EPOCHS
OPTIONS = ('--cfg-options', f'train_cfg.max_epochs={EPOCHS}',
           'default_hooks.checkpoint.max_keep_ckpts=2',
           'default_hooks.checkpoint.save_best=mse',
           'default_hooks.checkpoint.rule=less')
_rng = random.Random(25)  # the "random" points, the same every run
POINTS = [('step', _rng.randint(1, STEPS - 1)) for _ in range(2)] + [
    (where, _rng.randint(1, MAX_SAVES)) for where in
    ('checkpoint_write', 'before_pointer') for _ in range(2)]


def train(work_dir, config=CONFIG):
    return run_toy('train', '--work-dir', work_dir, '--resume', *OPTIONS,
                   config=config)


def killing_config(folder, where, count):
    """The toy config plus a FaultInjectionHook."""
    path = folder / 'killed_config.py'
    path.write_text(
        f"_base_ = [{str(CONFIG)!r}]\n"
        "custom_imports = dict(imports=['toolbox.toy_modules', "
        "'toolbox.fault_hook'], allow_failed_imports=False)\n"
        f"custom_hooks = [dict(type='FaultInjectionHook', where={where!r}, "
        f"count={count})]\n")
    return path


def files(work_dir):
    return sorted(p.name for p in work_dir.iterdir()
                  if p.name.endswith(('.pth', '.tmp')))


def weights(path):
    return torch.load(path, map_location='cpu',
                      weights_only=True)['state_dict']


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('full')
    run = train(work_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    return work_dir


@pytest.mark.parametrize('where, count', POINTS)
def test_killed_and_resumed_run_ends_like_an_uninterrupted_one(
        uninterrupted, tmp_path, where, count):
    work_dir = tmp_path / 'work'
    killed = train(work_dir, killing_config(tmp_path, where, count))
    if killed.returncode == 0:
        pytest.skip(f'{where} #{count} did not happen in this run')
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = train(work_dir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert files(work_dir) == files(uninterrupted)  # no *.tmp, no orphan
    a = weights(uninterrupted / f'epoch_{EPOCHS}.pth')
    b = weights(work_dir / f'epoch_{EPOCHS}.pth')
    assert all(torch.equal(a[k], b[k]) for k in a)
