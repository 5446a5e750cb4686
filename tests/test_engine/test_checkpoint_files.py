"""SafeCheckpointHook and PointHMRRunner after crashes and copies: a run
deletes only files it wrote into its own folder; resume finds the newest
complete checkpoint; partial saves are cleaned; an orphaned best counts."""
import os
import shutil

import pytest
import torch
from mmengine.hooks import Hook

from pointhmr_mm.engine import build_runner
from pointhmr_mm.engine.checkpoint_files import (newest_checkpoint,
                                                 partial_checkpoints)
from pointhmr_mm.engine.hooks import SafeCheckpointHook
from pointhmr_mm.setup_env import register_all_modules
from toolbox.toy import toy_cfg

pytestmark = pytest.mark.slow  # every test trains the toy run
register_all_modules()
BEST = dict(checkpoint=dict(save_best='mse', rule='less', max_keep_ckpts=2))


class Stop(Exception):
    """Ends a run where a kill would."""


class RecordAtStart(Hook):
    """Records the resumed state every other hook set up, then stops."""
    priority = 'LOWEST'

    def before_train(self, runner):
        self.epoch = runner.epoch
        self.best_score = runner.message_hub.get_info('best_score')
        raise Stop


def train(work_dir, name, **overrides):
    runner = build_runner(toy_cfg(work_dir, name, **overrides))
    runner.train()
    return runner


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.is_file()}


def test_resuming_another_runs_checkpoint_leaves_that_run_alone(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    train(a, 'own_a', default_hooks=BEST)
    before = snapshot(a)
    assert 'best_mse_epoch_2.pth' in before or 'best_mse_epoch_1.pth' in \
        before
    runner = train(b, 'own_b', resume=True, load_from=str(a / 'epoch_2.pth'),
                   train_cfg=dict(max_epochs=5), default_hooks=dict(
                       checkpoint=dict(save_best='mse', rule='less',
                                       max_keep_ckpts=1)))
    assert runner.epoch == 5
    assert snapshot(a) == before  # not one file of run a removed
    assert list(b.glob('best_mse_*.pth'))  # b's best was judged and saved
    assert sorted(p.name for p in b.glob('epoch_*.pth')) == ['epoch_5.pth']


def test_copied_work_dir_keeps_the_copies_and_the_original(tmp_path):
    a, c = tmp_path / 'a', tmp_path / 'c'
    train(a, 'copy_a', default_hooks=BEST)
    before = snapshot(a)
    shutil.copytree(a, c)
    train(c, 'copy_c', resume=True, train_cfg=dict(max_epochs=4),
          default_hooks=dict(checkpoint=dict(save_best='mse', rule='less',
                                             max_keep_ckpts=1)))
    assert snapshot(a) == before
    names = {p.name for p in c.glob('epoch_*.pth')}
    # the copies were not written by this run; its own epoch_3 was
    assert names == {'epoch_1.pth', 'epoch_2.pth', 'epoch_4.pth'}


def test_resume_in_the_same_folder_still_prunes_its_own_files(tmp_path):
    train(tmp_path, 'same_a', train_cfg=dict(max_epochs=1),
          default_hooks=dict(checkpoint=dict(max_keep_ckpts=1)))
    train(tmp_path, 'same_b', resume=True,
          default_hooks=dict(checkpoint=dict(max_keep_ckpts=1)))
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_2.pth']


def test_missing_pointer_resumes_from_the_newest_checkpoint(tmp_path):
    train(tmp_path, 'nopointer_a', default_hooks=dict(
        checkpoint=dict(max_keep_ckpts=3)))
    (tmp_path / 'last_checkpoint').unlink()  # killed before the first one
    record = RecordAtStart()
    runner = build_runner(toy_cfg(tmp_path, 'nopointer_b', resume=True,
                                  train_cfg=dict(max_epochs=3)))
    runner.register_hook(record)
    with pytest.raises(Stop):
        runner.train()
    assert record.epoch == 2


def test_stale_pointer_gives_way_to_a_later_checkpoint(tmp_path):
    train(tmp_path, 'stale_a', default_hooks=dict(
        checkpoint=dict(max_keep_ckpts=3)))
    pointer = tmp_path / 'last_checkpoint'
    pointer.write_text(str(tmp_path / 'epoch_1.pth'))
    later = os.stat(tmp_path / 'epoch_2.pth').st_mtime_ns
    os.utime(pointer, ns=(later - 10**9, later - 10**9))
    assert newest_checkpoint(str(tmp_path), str(tmp_path / 'epoch_1.pth'),
                             str(pointer)) == str(tmp_path / 'epoch_2.pth')
    record = RecordAtStart()
    runner = build_runner(toy_cfg(tmp_path, 'stale_b', resume=True,
                                  train_cfg=dict(max_epochs=3)))
    runner.register_hook(record)
    with pytest.raises(Stop):
        runner.train()
    assert record.epoch == 2
    # a pointer written after the later file (a deliberate resume from an
    # earlier checkpoint) is followed
    os.utime(pointer, ns=(later + 10**9, later + 10**9))
    assert newest_checkpoint(str(tmp_path), str(tmp_path / 'epoch_1.pth'),
                             str(pointer)) == str(tmp_path / 'epoch_1.pth')


def test_partial_saves_are_removed_on_start(tmp_path):
    train(tmp_path, 'tmp_a', train_cfg=dict(max_epochs=1))
    partial = tmp_path / 'epoch_7.pth.tmp'  # a later save, killed
    partial.write_bytes(b'half a checkpoint')
    other = tmp_path / 'notes.tmp'
    other.write_text('not a checkpoint')
    assert partial_checkpoints(str(tmp_path)) == [str(partial)]
    train(tmp_path, 'tmp_b', resume=True)
    assert not partial.exists() and other.exists()


def test_best_written_before_the_kill_is_taken_over(tmp_path, monkeypatch):
    """Killed after epoch 2's best file, before epoch 2's checkpoint was
    saved again with the new best score."""
    runner = build_runner(toy_cfg(tmp_path, 'orphan_a', default_hooks=BEST))
    hook = next(h for h in runner.hooks if isinstance(h, SafeCheckpointHook))
    real = hook._save_checkpoint_with_step
    saves = []

    def save(runner_, step, meta):
        saves.append(step)
        if saves.count(2) == 2:  # the re-save after the best
            raise Stop
        real(runner_, step, meta)

    monkeypatch.setattr(hook, '_save_checkpoint_with_step', save)
    with pytest.raises(Stop):
        runner.train()
    orphan = tmp_path / 'best_mse_epoch_2.pth'
    assert orphan.is_file() and (tmp_path / 'best_mse_epoch_1.pth').is_file()
    resumed_hub = torch.load(tmp_path / 'epoch_2.pth',
                             weights_only=True)['message_hub']
    old_score = resumed_hub['runtime_info']['best_score']
    new_score = runner.message_hub.get_info('best_score')
    assert new_score < old_score
    record = RecordAtStart()
    resumed = build_runner(toy_cfg(tmp_path, 'orphan_b', resume=True,
                                   default_hooks=BEST,
                                   train_cfg=dict(max_epochs=3)))
    resumed.register_hook(record)
    with pytest.raises(Stop):
        resumed.train()
    assert record.epoch == 2 and record.best_score == new_score
    assert not (tmp_path / 'best_mse_epoch_1.pth').exists()
    assert orphan.is_file()
