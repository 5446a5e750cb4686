"""tools/train.py and tools/test.py: arguments, and a killed run resumed
with --resume that ends like an uninterrupted one."""
import os
import pickle

import pytest
import torch
from mmengine.config import Config

from toolbox import ROOT, load_tool
from toolbox.toy import CONFIG, KILLED_CONFIG, KILLED_EXIT_CODE, run_toy


def state_dict(path):
    return torch.load(path, map_location='cpu',
                      weights_only=True)['state_dict']


@pytest.fixture(scope='module')
def train_tool():
    return load_tool('train')


def test_resume_flag_forms(train_tool, tmp_path):
    ckpt = tmp_path / 'epoch_1.pth'
    ckpt.write_bytes(b'')
    for argv, resume, load_from in (
            ([], False, None), (['--resume'], True, None),
            (['--resume', str(ckpt)], True, str(ckpt))):
        args = train_tool.parse_args([str(CONFIG), *argv])
        cfg = train_tool.merge_args(Config.fromfile(str(CONFIG)), args)
        assert (cfg.resume, cfg.load_from) == (resume, load_from)
        assert cfg.work_dir == os.path.join('./work_dirs', 'toy_config')


def test_options_are_merged(train_tool, tmp_path):
    args = train_tool.parse_args([
        str(CONFIG), '--work-dir', str(tmp_path), '--cfg-options',
        'train_cfg.max_epochs=5', 'randomness.seed=3'])
    cfg = train_tool.merge_args(Config.fromfile(str(CONFIG)), args)
    assert cfg.work_dir == str(tmp_path)
    assert (cfg.train_cfg.max_epochs, cfg.randomness.seed) == (5, 3)


def test_bad_arguments_are_refused(train_tool, tmp_path, capsys):
    with pytest.raises(SystemExit):
        train_tool.parse_args([str(CONFIG), '--resume',
                               str(tmp_path / 'missing.pth')])
    assert 'missing.pth' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_tool.parse_args([str(CONFIG), '--launcher', 'ssh'])
    args = train_tool.parse_args([str(CONFIG), '--auto-scale-lr'])
    from pointhmr_mm.engine.entry_points import ConfigError
    with pytest.raises(ConfigError, match='base_batch_size'):
        train_tool.merge_args(Config.fromfile(str(CONFIG)), args)


def test_amp_is_bf16_on_any_device(train_tool):
    args = train_tool.parse_args([str(CONFIG), '--amp'])
    cfg = train_tool.merge_args(Config.fromfile(str(CONFIG)), args)
    assert cfg.optim_wrapper.type == 'PortableAmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'


def test_recipe_trains_in_bf16_unless_told_not_to(train_tool):
    recipe = ROOT / 'configs' / 'pointhmr_hrnet_w32.py'
    cfg = train_tool.merge_args(Config.fromfile(str(recipe)),
                                train_tool.parse_args([str(recipe)]))
    assert cfg.optim_wrapper.type == 'PortableAmpOptimWrapper'
    assert cfg.optim_wrapper.enabled == 'auto'
    assert cfg.model.channels_last == 'auto' and cfg.model.head.with_cp
    args = train_tool.parse_args([str(recipe), '--amp'])
    cfg = train_tool.merge_args(Config.fromfile(str(recipe)), args)
    assert cfg.optim_wrapper.enabled is True
    args = train_tool.parse_args([str(recipe), '--no-amp'])
    cfg = train_tool.merge_args(Config.fromfile(str(recipe)), args)
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert 'dtype' not in cfg.optim_wrapper
    assert 'enabled' not in cfg.optim_wrapper
    assert cfg.optim_wrapper.optimizer.type == 'Adam'
    with pytest.raises(SystemExit):
        train_tool.parse_args([str(recipe), '--amp', '--no-amp'])


@pytest.mark.slow
def test_killed_run_resumed_by_the_tool_ends_like_a_full_run(tmp_path):
    full = run_toy('train', '--work-dir', tmp_path / 'full')
    assert full.returncode == 0, full.stderr[-2000:]
    cut = tmp_path / 'cut'
    killed = run_toy('train', '--work-dir', cut, config=KILLED_CONFIG)
    assert killed.returncode == KILLED_EXIT_CODE, killed.stderr[-2000:]
    assert (cut / 'epoch_1.pth').is_file()
    assert not (cut / 'epoch_2.pth').exists()
    resumed = run_toy('train', '--work-dir', cut, '--resume')
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert 'resumed epoch: 1' in resumed.stdout + resumed.stderr
    a = state_dict(tmp_path / 'full' / 'epoch_2.pth')
    b = state_dict(cut / 'epoch_2.pth')
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    # max_keep_ckpts=1: epoch 1 went only once epoch 2 was complete
    assert sorted(p.name for p in cut.glob('*.pth')) == ['epoch_2.pth']
    assert (cut / 'last_checkpoint').read_text().endswith('epoch_2.pth')

    out = tmp_path / 'preds.pkl'
    test = run_toy('test', cut / 'epoch_2.pth', '--work-dir',
                   tmp_path / 'test', '--out', out)
    assert test.returncode == 0, test.stderr[-2000:]
    assert 'mse:' in test.stdout + test.stderr
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 8  # the toy test split


def test_test_tool_refuses_bad_arguments(tmp_path, capsys):
    test_tool = load_tool('test')
    with pytest.raises(SystemExit):
        test_tool.parse_args([str(CONFIG), str(tmp_path / 'none.pth')])
    assert 'none.pth' in capsys.readouterr().err
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')
    with pytest.raises(SystemExit):
        test_tool.parse_args([str(CONFIG), str(ckpt), '--out', 'r.txt'])
    assert '--out r.txt' in capsys.readouterr().err
