"""Logs a plot can read (epoch on validation lines, TensorBoard by flag),
tools/analysis/analyze_logs.py, and clear errors for config options."""
import json

import cv2
import pytest
from mmengine.config import Config

from toolbox import load_tool
from toolbox.toy import CONFIG, run_toy

analyze_logs = load_tool('analysis/analyze_logs')


def scalars(work_dir):
    (path, ) = work_dir.glob('*/vis_data/scalars.json')
    return path, [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope='module')
def toy_run(tmp_path_factory):
    """The toy config trained for 2 epochs with TensorBoard on."""
    pytest.importorskip('tensorboard')
    work_dir = tmp_path_factory.mktemp('toy_run')
    result = run_toy('train', '--work-dir', work_dir, '--vis-backend',
                     'tensorboard')
    assert result.returncode == 0, result.stderr[-2000:]
    return work_dir


@pytest.mark.slow
def test_validation_lines_carry_epoch_and_iter(toy_run):
    _, lines = scalars(toy_run)
    val = [line for line in lines if 'mse' in line]
    # 16 samples / batch 4 = 4 steps an epoch, validated after each epoch
    assert [(v['epoch'], v['iter']) for v in val] == [(1, 4), (2, 8)]
    train = [line for line in lines if 'loss' in line]
    assert [t['iter'] for t in train] == list(range(1, 9))


@pytest.mark.slow
def test_vis_backend_flag_writes_tensorboard_events(toy_run):
    assert list(toy_run.glob('*/vis_data/events.out.tfevents.*'))


def test_vis_backend_flag_is_merged_once(tmp_path):
    train_tool = load_tool('train')
    args = train_tool.parse_args([str(CONFIG), '--vis-backend',
                                  'tensorboard', 'local'])
    cfg = train_tool.merge_args(Config.fromfile(str(CONFIG)), args)
    types = [b['type'] for b in cfg.visualizer.vis_backends]
    assert sorted(types) == ['LocalVisBackend', 'TensorboardVisBackend']


@pytest.mark.slow
def test_plot_curve_draws_losses_by_iter_and_metrics_by_epoch(toy_run,
                                                              tmp_path):
    log, _ = scalars(toy_run)
    curves = analyze_logs.collect_curves([str(log)] * 2, ['loss', 'mse'])
    position, x, _ = curves['loss'][0]
    assert position == 'iter' and list(x) == list(range(1, 9))
    position, x, _ = curves['mse'][1]
    assert position == 'epoch' and list(x) == [1, 2]
    out = tmp_path / 'curves.png'
    analyze_logs.main(['plot_curve', str(log), str(log), '--keys', 'loss',
                       'mse', '--legend', 'a', 'b', '--out', str(out)])
    image = cv2.imread(str(out))
    assert image is not None and image.std() > 0
    with pytest.raises(SystemExit, match='no log has "nope"'):
        analyze_logs.main(['plot_curve', str(log), '--keys', 'nope',
                           '--out', str(out)])
    with pytest.raises(SystemExit, match='2 names for 1 logs'):
        analyze_logs.main(['plot_curve', str(log), '--legend', 'a', 'b',
                           '--out', str(out)])


@pytest.mark.slow
def test_cal_train_time(toy_run, capsys):
    log, _ = scalars(toy_run)
    analyze_logs.main(['cal_train_time', str(log)])
    assert '8 logged steps' in capsys.readouterr().out


@pytest.mark.slow
def test_no_validate(tmp_path):
    result = run_toy('train', '--work-dir', tmp_path, '--no-validate')
    assert result.returncode == 0, result.stderr[-2000:]
    _, lines = scalars(tmp_path)
    assert lines and not any('mse' in line for line in lines)


@pytest.mark.slow
def test_nested_option_typo_names_the_key(tmp_path):
    from pointhmr_mm.engine.entry_points import ConfigError
    train_tool = load_tool('train')
    args = train_tool.parse_args([
        str(CONFIG), '--cfg-options', 'train_cfg.max_epochs.typo=3'])
    with pytest.raises(ConfigError, match='train_cfg.max_epochs is int 2'):
        train_tool.merge_args(Config.fromfile(str(CONFIG)), args)
    result = run_toy('train', '--work-dir', tmp_path, '--cfg-options',
                     'optim_wrapper.optimizer.lr.x=1')
    assert result.returncode != 0
    assert 'optim_wrapper.optimizer.lr is float' in result.stderr
    assert 'Traceback' not in result.stderr


@pytest.mark.slow
def test_auto_scale_lr_without_base_batch_size(tmp_path):
    result = run_toy('train', '--work-dir', tmp_path, '--auto-scale-lr')
    assert result.returncode != 0
    assert 'has no auto_scale_lr.base_batch_size' in result.stderr
    assert 'Traceback' not in result.stderr
