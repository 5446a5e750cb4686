"""tools/analysis/benchmark_train_step.py and its helpers: the stand-in
body model meets its sizes exactly, and the tool measures a config whose
body-model files are absent (bf16) and writes the JSON keys, throughput
included."""
import json

import numpy as np
import pytest

from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.models.utils import MeshSampler
from pointhmr_mm.testing.benchmark import (make_stand_in_body_model,
                                           missing_body_model_files,
                                           point_model_at_stand_in)

from toolbox import ROOT, load_tool

QUICKSTART = ROOT / 'configs' / 'quickstart' / 'pointhmr_quickstart.py'
JSON_KEYS = ('train_step_s', 'train_peak_rss_bytes', 'train_peak_cuda_bytes',
             'infer_s', 'flops_per_image', 'params', 'batch', 'device',
             'dtype')


def test_stand_in_has_exact_sizes(tmp_path):
    files = make_stand_in_body_model(tmp_path, 700, (200, 50))
    body = SMPL(files['model_path'],
                joint_regressors=dict(h36m=files['h36m']))
    assert body.num_vertices == 700
    sampler = MeshSampler(files['mesh_sampler'])
    assert sampler.num_vertices == [700, 200, 50]
    regressor = np.load(files['h36m'])
    assert regressor.shape == (17, 700)
    np.testing.assert_allclose(regressor.sum(1), 1., atol=1e-9)
    # the template is a body, joints inside its bounding box
    joints = body.regress(body.v_template[None], 'h36m')[0].numpy()
    low, high = body.v_template.numpy().min(0), body.v_template.numpy().max(0)
    assert ((joints > low) & (joints < high)).all()


def test_config_pointed_at_stand_in(tmp_path):
    model = dict(mesh_targets=dict(
        body_model=dict(model_path=str(tmp_path / 'none'),
                        joint_regressors=dict(h36m='x.npy')),
        mesh_sampler=dict(type='MeshSampler', filename='y.npz')))
    assert len(missing_body_model_files(model)) == 3
    files = dict(model_path='smpl', h36m='h.npy', mesh_sampler='m.npz')
    pointed = point_model_at_stand_in(model, files)
    targets = pointed['mesh_targets']
    assert targets['body_model']['joint_regressors'] == dict(h36m='h.npy')
    assert targets['mesh_sampler']['filename'] == 'm.npz'
    # a copy
    assert model['mesh_targets']['mesh_sampler']['filename'] == 'y.npz'


@pytest.mark.slow
def test_tool_writes_json_without_body_model_files(tmp_path):
    """bf16 (the recipe's default mode) from absent body-model files."""
    tool = load_tool('analysis/benchmark_train_step')
    out = tmp_path / 'bench.json'
    argv = [str(QUICKSTART), '--batch', '2', '--iters', '1',
            '--infer-iters', '1', '--infer-batch', '3', '--json', str(out),
            '--cfg-options',
            f'model.mesh_targets.body_model.model_path={tmp_path}/absent/smpl']
    assert tool.main(argv + ['--amp']) == 0
    result = json.loads(out.read_text())
    assert all(key in result for key in JSON_KEYS)
    assert result['dtype'] == 'bfloat16'
    assert result['stand_in_body_model'].startswith('1200 vertices')
    assert result['batch'] == 2 and result['device'] == 'cpu'
    assert result['train_step_s'] > 0 and result['infer_s'] > 0
    assert result['train_peak_rss_bytes'] > 0
    assert result['train_peak_cuda_bytes'] is None
    assert result['flops_per_image'] > 0
    assert result['flops_per_image'] >= sum(result['flops_by_part'].values())
    assert result['params'] == sum(result['params_by_part'].values())
    # throughput: training at --batch, inference at --infer-batch
    assert result['train_images_per_s'] == 2 / result['train_step_s']
    assert result['infer_batch'] == 3 and result['infer_batch_s'] > 0
    assert result['infer_images_per_s'] == 3 / result['infer_batch_s']
    assert result['compile'] is False and result['gpu'] is None
    assert result['infer_fused_s'] > 0
    assert result['train_minor_faults_per_step'] >= 0
    # the config's glibc malloc settings, as the Runner applies them
    assert set(result['malloc_cfg']) <= {'mmap_threshold', 'trim_threshold'}
