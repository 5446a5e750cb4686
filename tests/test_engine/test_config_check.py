"""Configuration and checkpoint errors found before the first step, named
by their key or file; metrics saved before any dump."""
import json

import pytest
import torch
from mmengine.evaluator import BaseMetric

from pointhmr_mm.engine import MetricsFirstEvaluator, build_runner
from pointhmr_mm.engine.checkpoint_files import CheckpointError
from pointhmr_mm.engine.config_check import (ConfigError, check_config,
                                             check_writable)
from pointhmr_mm.setup_env import register_all_modules
from toolbox.toy import toy_cfg

register_all_modules()


@pytest.mark.parametrize('overrides, key', [
    (dict(default_hooks=dict(checkpoint=dict(intervall=1))),
     'default_hooks.checkpoint.intervall'),
    (dict(default_hooks=dict(logger=dict(intervl=5))),
     'default_hooks.logger.intervl'),
    (dict(custom_hooks=[dict(type='EmptyCacheHook', after_epch=True)]),
     'custom_hooks[0].after_epch'),
    (dict(train_cfg=dict(val_intervall=1)), 'train_cfg.val_intervall'),
    (dict(env_cfg=dict(cudnn_benchmarck=True)), 'env_cfg.cudnn_benchmarck'),
    (dict(randomness=dict(sed=1)), 'randomness.sed'),
])
def test_wrong_keys_stop_the_build_and_are_named(tmp_path, overrides, key):
    cfg = toy_cfg(tmp_path, 'bad_key', **overrides)
    with pytest.raises(ConfigError, match=key.replace('[', r'\[')):
        build_runner(cfg)
    assert not list(tmp_path.glob('*.pth'))


def test_close_key_is_suggested_and_good_configs_pass(tmp_path):
    cfg = toy_cfg(tmp_path, 'hint', default_hooks=dict(
        checkpoint=dict(intervall=1)))
    with pytest.raises(ConfigError, match='did you mean '
                       'default_hooks.checkpoint.interval'):
        check_config(cfg)
    check_config(toy_cfg(tmp_path, 'good', custom_hooks=[
        dict(type='EMAHook', momentum=0.1, priority='ABOVE_NORMAL')]))


def test_unwritable_paths_are_named(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    with pytest.raises(ConfigError, match='--out .*a_file is a file'):
        check_writable(str(blocker / 'sub' / 'p.pkl'), '--out')
    with pytest.raises(ConfigError, match='is a folder'):
        check_writable(str(tmp_path), '--out')
    check_writable(str(tmp_path / 'new' / 'p.pkl'), '--out')
    assert not (tmp_path / 'new').exists()  # the probe leaves nothing
    with pytest.raises(ConfigError, match='work_dir'):
        check_config(toy_cfg(blocker / 'run', 'work_dir_blocked'))


def trained(tmp_path, name='ckpt_src'):
    runner = build_runner(toy_cfg(tmp_path / name, name,
                                  train_cfg=dict(max_epochs=1)))
    runner.train()
    return tmp_path / name / 'epoch_1.pth'


@pytest.mark.slow
def test_empty_and_cut_checkpoints_are_named(tmp_path):
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    runner = build_runner(toy_cfg(tmp_path / 'load', 'load_empty'))
    with pytest.raises(CheckpointError, match='empty.pth is empty'):
        runner.load_checkpoint(str(empty))
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(trained(tmp_path).read_bytes()[:500])
    with pytest.raises(CheckpointError, match='cut.pth'):
        runner.load_checkpoint(str(cut))


@pytest.mark.slow
def test_resume_from_weights_only_says_load_from(tmp_path):
    ckpt = torch.load(trained(tmp_path), weights_only=True)
    weights = tmp_path / 'published.pth'
    torch.save(dict(state_dict=ckpt['state_dict'],
                    meta=dict(epoch=1)), weights)
    runner = build_runner(toy_cfg(tmp_path / 'r', 'resume_published',
                                  resume=True, load_from=str(weights)))
    with pytest.raises(CheckpointError, match=r"no \['message_hub'\].*"
                       '--load-from .*published.pth'):
        runner.train()
    loaded = build_runner(toy_cfg(tmp_path / 'l', 'load_published',
                                  load_from=str(weights),
                                  train_cfg=dict(max_epochs=1)))
    loaded.train()  # the same file as weights: a new schedule
    assert loaded.epoch == 1


@pytest.mark.slow
def test_weights_of_another_model_are_refused_unless_told(tmp_path):
    ckpt = torch.load(trained(tmp_path), weights_only=True)
    state = ckpt['state_dict']
    state['linear.weight'] = torch.zeros(1, 5)
    state['head.weight'] = torch.zeros(1)
    other = tmp_path / 'other.pth'
    torch.save(dict(state_dict=state), other)
    runner = build_runner(toy_cfg(tmp_path / 'o', 'other_strict'))
    with pytest.raises(CheckpointError) as err:
        runner.load_checkpoint(str(other))
    message = str(err.value)
    assert 'other.pth' in message and 'head.weight' in message
    assert 'linear.weight: checkpoint (1, 5) vs model (1, 4)' in message
    assert 'load_strict=False' in message
    del state['linear.weight']
    torch.save(dict(state_dict=state), other)
    lenient = build_runner(toy_cfg(tmp_path / 'p', 'other_lenient',
                                   load_strict=False))
    lenient.load_checkpoint(str(other))  # what fits is loaded


class Scores(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.extend(s['error'] for s in data_samples)

    def compute_metrics(self, results):
        return dict(mean=sum(results) / len(results))


def test_metrics_are_saved_before_a_dump_fails(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    metrics_file = tmp_path / 'metrics.json'
    evaluator = MetricsFirstEvaluator(
        [dict(type='DumpMeshResults', out_file_path=str(
            blocker / 'p.pkl')), Scores()],
        metrics_file=str(metrics_file), header=dict(checkpoint='x.pth'))
    evaluator.process([dict(error=e) for e in (1.0, 2.0, 3.0)])
    with pytest.raises(OSError):
        evaluator.evaluate(3)
    saved = json.loads(metrics_file.read_text())
    assert saved == dict(checkpoint='x.pth', metrics=dict(mean=2.0))
