"""tools/train.py and tools/test.py stop before the first step on a wrong
key, an unwritable output or a checkpoint that cannot serve, and name it;
test.py saves the metrics before anything else."""
import json

import pytest
import torch

from pointhmr_mm.engine import allow_mmengine_checkpoints
from toolbox.toy import run_toy

pytestmark = pytest.mark.slow
allow_mmengine_checkpoints()  # torch.load of the runner's checkpoints


def output(process):
    return process.stdout + process.stderr


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    work = tmp_path_factory.mktemp('toy_trained')
    run = run_toy('train', '--work-dir', work, '--cfg-options',
                  'train_cfg.max_epochs=1')
    assert run.returncode == 0, run.stderr[-2000:]
    return work / 'epoch_1.pth'


def test_hook_key_typo_stops_training_before_the_first_step(tmp_path):
    run = run_toy('train', '--work-dir', tmp_path, '--cfg-options',
                  'default_hooks.checkpoint.intervall=1')
    assert run.returncode != 0
    assert 'default_hooks.checkpoint.intervall' in run.stderr
    assert 'Traceback' not in run.stderr
    assert 'Epoch(train)' not in output(run)
    assert not list(tmp_path.glob('*.pth'))


def test_unwritable_out_stops_the_test_before_it_runs(checkpoint, tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    out = blocker / 'preds.pkl'
    run = run_toy('test', checkpoint, '--work-dir', tmp_path / 'w',
                  '--out', out)
    assert run.returncode != 0
    assert f'--out {out}' in run.stderr and 'Traceback' not in run.stderr
    assert 'Epoch(test)' not in output(run)


def test_metrics_are_printed_and_saved(checkpoint, tmp_path):
    run = run_toy('test', checkpoint, '--work-dir', tmp_path, '--out',
                  tmp_path / 'preds.pkl')
    assert run.returncode == 0, run.stderr[-2000:]
    assert 'metrics: mse:' in output(run)
    saved, = tmp_path.glob('test_metrics_*.json')
    record = json.loads(saved.read_text())
    assert record['checkpoint'] == str(checkpoint)
    assert set(record['metrics']) == {'mse'}


def test_empty_checkpoint_is_named(tmp_path):
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    run = run_toy('test', empty, '--work-dir', tmp_path)
    assert run.returncode != 0
    assert f'{empty} is empty' in run.stderr
    assert 'Traceback' not in run.stderr


def test_resume_from_published_weights_points_to_load_from(checkpoint,
                                                           tmp_path):
    ckpt = torch.load(checkpoint, weights_only=True)
    published = tmp_path / 'published.pth'
    torch.save(dict(state_dict=ckpt['state_dict'], meta=dict(epoch=1)),
               published)
    run = run_toy('train', '--work-dir', tmp_path / 'r', '--resume',
                  published)
    assert run.returncode != 0 and 'Traceback' not in run.stderr
    assert f'--load-from {published}' in run.stderr
    run = run_toy('train', '--work-dir', tmp_path / 'l', '--load-from',
                  published, '--cfg-options', 'train_cfg.max_epochs=1')
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / 'l' / 'epoch_1.pth').is_file()
