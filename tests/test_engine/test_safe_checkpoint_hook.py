"""SafeCheckpointHook: old checkpoints go only after the new one exists."""
import pytest

from pointhmr_mm.engine import build_runner
from pointhmr_mm.engine.hooks import SafeCheckpointHook
from pointhmr_mm.setup_env import register_all_modules

from toolbox.toy import toy_cfg

register_all_modules()


def checkpoint_hook(runner):
    return next(h for h in runner.hooks
                if isinstance(h, SafeCheckpointHook))


def test_bad_arguments_are_refused_like_mmengine():
    with pytest.raises(KeyError, match='sideways'):
        SafeCheckpointHook(save_best='mse', rule='sideways')


@pytest.mark.slow
def test_max_keep_prunes_after_saving(tmp_path):
    runner = build_runner(toy_cfg(
        tmp_path, 'keep2', train_cfg=dict(max_epochs=3, val_interval=10),
        default_hooks=dict(checkpoint=dict(max_keep_ckpts=2))))
    runner.train()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == [
        'epoch_2.pth', 'epoch_3.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == str(
        tmp_path / 'epoch_3.pth')
    assert runner.message_hub.get_info('keep_ckpt_ids') == [2, 3]


@pytest.mark.slow
def test_failed_save_removes_nothing(tmp_path, monkeypatch):
    runner = build_runner(toy_cfg(tmp_path, 'keep1_fail',
                                  train_cfg=dict(max_epochs=1)))
    runner.train()
    hook = checkpoint_hook(runner)

    def fail(*args, **kwargs):
        raise OSError('no space')

    monkeypatch.setattr(runner, 'save_checkpoint', fail)
    with pytest.raises(OSError, match='no space'):
        hook._save_checkpoint_with_step(runner, 2, dict(epoch=2))
    assert (tmp_path / 'epoch_1.pth').is_file()  # max_keep_ckpts=1


@pytest.mark.slow
def test_previous_best_removed_only_after_the_new_best(tmp_path,
                                                       monkeypatch):
    runner = build_runner(toy_cfg(
        tmp_path, 'best', train_cfg=dict(max_epochs=1),
        default_hooks=dict(checkpoint=dict(save_best='mse', rule='less'))))
    runner.train()
    first = tmp_path / 'best_mse_epoch_1.pth'
    assert first.is_file()
    hook = checkpoint_hook(runner)
    runner.train_loop._epoch = 2
    real_save = runner.save_checkpoint

    def fail(*args, **kwargs):
        raise OSError('no space')

    monkeypatch.setattr(runner, 'save_checkpoint', fail)
    with pytest.raises(OSError, match='no space'):
        hook._save_best_checkpoint(runner, dict(mse=-1.0))
    assert first.is_file() and hook.best_ckpt_path == str(first)
    monkeypatch.setattr(runner, 'save_checkpoint', real_save)
    hook._save_best_checkpoint(runner, dict(mse=1e9))  # worse: kept
    assert hook.best_ckpt_path == str(first) and first.is_file()
    hook._save_best_checkpoint(runner, dict(mse=-2.0))
    assert not first.is_file()
    assert (tmp_path / 'best_mse_epoch_2.pth').is_file()
    assert hook.best_ckpt_path == str(tmp_path / 'best_mse_epoch_2.pth')


@pytest.mark.slow
def test_missing_best_key_warns_and_keeps_training(tmp_path, monkeypatch):
    import pointhmr_mm.engine.hooks.safe_checkpoint_hook as module
    messages = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    runner = build_runner(toy_cfg(
        tmp_path, 'best_missing', train_cfg=dict(max_epochs=2),
        default_hooks=dict(checkpoint=dict(save_best='3dpw/mse',
                                           rule='less'))))
    runner.train()  # the toy metric reports 'mse' only
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_2.pth']
    assert len(messages) == 2 and all("'3dpw/mse'" in m and "'mse'" in m
                                      for m in messages)
