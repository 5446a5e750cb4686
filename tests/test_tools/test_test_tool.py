"""tools/test.py: --out (.pkl/.json, per-sample tensors), --dump
(mmengine's DumpResults layout), --show-dir/--interval, --show."""
import json
import pickle
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.structures import BaseDataElement

from pointhmr_mm.evaluation.metrics.dump_mesh_results import (
    DumpMeshResults, drop_empty_gt)
from pointhmr_mm.setup_env import register_all_modules

from toolbox import load_tool, run_tool
from toolbox.tiny_run import BATCH, NUM_IMAGES

register_all_modules()


@pytest.fixture(scope='module')
def tested(tiny_run, tmp_path_factory):
    """tools/test.py run once with every output option."""
    config, ckpt, _ = tiny_run
    out = tmp_path_factory.mktemp('tested')
    result = run_tool('test', config, ckpt, '--work-dir', out,
                      '--out', out / 'p.json', '--dump', out / 'd.pkl',
                      '--show-dir', 'shown', '--interval', '2')
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stdout + result.stderr


@pytest.mark.slow
def test_out_json_has_predictions_and_only_real_gt(tested):
    out, _ = tested
    records = json.loads((out / 'p.json').read_text())
    assert len(records) == NUM_IMAGES
    first = records[0]
    assert np.array(first['pred_vertices']).shape[1] == 3
    assert 'pred_heatmaps' not in first  # --dump keeps them
    assert 'img_path' in first and 'gt_pose' in first  # labelled data


@pytest.mark.slow
def test_dump_holds_each_samples_own_tensors(tested):
    out, _ = tested
    with open(out / 'd.pkl', 'rb') as f:
        samples = pickle.load(f)
    assert len(samples) == NUM_IMAGES
    heatmaps = samples[0]['pred_heatmaps']
    assert isinstance(heatmaps, torch.Tensor)
    # a view would pickle its batch's storage: BATCH samples' worth
    own = heatmaps.untyped_storage().nbytes()
    assert own == heatmaps.numel() * heatmaps.element_size()
    size = len(pickle.dumps(samples[0]))
    tensors = sum(v.numel() * v.element_size() for v in samples[0].values()
                  if isinstance(v, torch.Tensor))
    assert size < tensors * 1.2 + 10_000 < BATCH * tensors


@pytest.mark.slow
def test_dump_evaluates_offline_to_the_logged_metrics(tested):
    out, log = tested
    with open(out / 'd.pkl', 'rb') as f:
        samples = pickle.load(f)
    metrics = Evaluator(dict(type='MeshMetric')).offline_evaluate(samples)
    logged = float(re.search(r'mesh/MPJPE: ([\d.]+)', log).group(1))
    assert metrics['mesh/MPJPE'] == pytest.approx(logged, abs=1e-3)


@pytest.mark.slow
def test_show_dir_draws_every_interval_th_sample(tested):
    out, _ = tested
    names = sorted(p.name for p in (out / 'shown').glob('*.png'))
    # 6 samples, every 2nd; the config's max_samples=2 is lifted
    assert names == ['test_mesh_0_0.png', 'test_mesh_2_0.png',
                     'test_mesh_4_0.png']


def test_out_pickle_holds_arrays(tmp_path):
    metric = DumpMeshResults(str(tmp_path / 'p.pkl'), to_numpy=True,
                             exclude_keys=('pred_heatmaps', ))
    batch = torch.arange(24.).view(2, 4, 3)
    metric.process(None, [dict(pred_vertices=batch[i],
                               pred_heatmaps=batch[i]) for i in range(2)])
    metric.compute_metrics(metric.results)
    with open(tmp_path / 'p.pkl', 'rb') as f:
        records = pickle.load(f)
    assert sorted(records[1]) == ['pred_vertices']
    np.testing.assert_array_equal(records[1]['pred_vertices'],
                                  batch[1].numpy())
    with pytest.raises(ValueError, match='must end with'):
        DumpMeshResults('p.txt')


def test_empty_gt_is_dropped():
    sample = BaseDataElement(metainfo=dict(img_path='a.jpg'))
    sample.set_data(dict(
        pred_vertices=torch.ones(5, 3), gt_keypoints_2d=torch.zeros(14, 3),
        gt_keypoints_3d=torch.ones(14, 4) * torch.tensor([1., 1, 1, 0]),
        gt_pose=torch.zeros(72), gt_betas=torch.zeros(10),
        has_smpl=torch.tensor(0.)))
    assert sorted(drop_empty_gt(sample.to_dict())) == ['img_path',
                                                       'pred_vertices']
    sample.has_smpl = torch.tensor(1.)
    sample.gt_pose = torch.ones(72)
    kept = drop_empty_gt(sample.to_dict())
    # labelled: zero betas (the mean shape) are a label, kept
    assert {'gt_pose', 'has_smpl'} <= set(kept) and 'gt_betas' not in kept


def test_show_needs_a_display(tiny_run, monkeypatch, capsys):
    config, ckpt, _ = tiny_run
    test_tool = load_tool('test')
    import pointhmr_mm.visualization.display as display
    monkeypatch.setattr(display.sys, 'platform', 'linux')
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    with pytest.raises(SystemExit):
        test_tool.parse_args([str(config), str(ckpt), '--show'])
    assert '--show needs a display' in capsys.readouterr().err
    monkeypatch.setenv('DISPLAY', ':0')
    args = test_tool.parse_args([str(config), str(ckpt), '--show'])
    cfg = test_tool.merge_args(Config.fromfile(str(config)), args)
    hook = cfg.default_hooks.visualization
    assert hook.show and hook.max_samples is None


def test_out_suffixes_and_interval_are_checked(tiny_run, capsys):
    config, ckpt, _ = tiny_run
    test_tool = load_tool('test')
    for bad in (['--out', 'r.txt'], ['--dump', 'r.json'],
                ['--interval', '0']):
        with pytest.raises(SystemExit):
            test_tool.parse_args([str(config), str(ckpt), *bad])
        assert bad[0] in capsys.readouterr().err
