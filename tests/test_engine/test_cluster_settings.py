"""Cluster settings: batch-norm statistics agree across DDP ranks before
validation; a collective timeout by default; FSDP refused."""
import json
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

import pointhmr_mm.engine.dist as dist_module
from pointhmr_mm.engine import setup_distributed
from pointhmr_mm.engine.config_check import ConfigError, check_config
from pointhmr_mm.setup_env import register_all_modules
from toolbox import ROOT, subprocess_env
from toolbox.toy import toy_cfg

register_all_modules()

WORKER = r'''
import json, os, sys
import torch
import torch.distributed as dist
from mmengine.model import BaseModel
from toolbox.toy import toy_cfg
from pointhmr_mm.engine import build_runner, setup_distributed
from pointhmr_mm.engine.entry_points import close_distributed
from pointhmr_mm.registry import MODELS
from pointhmr_mm.setup_env import register_all_modules


@MODELS.register_module(force=True)
class ToyNormModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(4)
        self.linear = torch.nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.linear(self.norm(inputs[:, :4]))[:, 0]
        if mode == 'loss':
            return dict(loss=((out - inputs[:, 4])**2).mean())
        return [dict(pred=o, gt=i[4]) for o, i in zip(out, inputs)]


register_all_modules()
work_dir, sync = sys.argv[1], sys.argv[2] == 'on'
cfg = toy_cfg(work_dir, 'sync', model=dict(type='ToyNormModel'),
              train_cfg=dict(max_epochs=1))
if not sync:
    cfg.default_hooks.sync_buffers = None
setup_distributed(cfg, 'pytorch')
runner = build_runner(cfg)
runner.train()
mean = runner.model.module.norm.running_mean.detach().clone()
gathered = [torch.zeros_like(mean) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, mean)
if dist.get_rank() == 0:
    with open(os.path.join(work_dir, 'result.json'), 'w') as f:
        json.dump(dict(same=torch.equal(gathered[0], gathered[1])), f)
del runner
close_distributed()
'''


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize('sync', ['on', 'off'])
def test_batch_norm_statistics_agree_across_ranks(tmp_path, sync):
    if torch.cuda.is_available():
        pytest.skip('CUDA present: this checks the CPU (gloo) path')
    script = tmp_path / 'worker.py'
    script.write_text(WORKER)
    cmd = [sys.executable, '-m', 'torch.distributed.run',
           '--nproc_per_node=2', f'--master_port={free_port()}',
           str(script), str(tmp_path), sync]
    run = subprocess.run(cmd, env=subprocess_env(OMP_NUM_THREADS='1'),
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    same = json.loads((tmp_path / 'result.json').read_text())['same']
    # each rank sees other samples: only the hook makes them agree
    assert same is (sync == 'on')


def test_default_runtime_syncs_buffers_and_sets_a_timeout(monkeypatch):
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/default_runtime.py'))
    assert cfg.default_hooks.sync_buffers.type == 'SyncBuffersHook'
    assert 0 < cfg.env_cfg.dist_cfg.timeout < 1800  # torch's default
    if torch.cuda.is_available():
        pytest.skip('CUDA present: mmengine init_dist takes the timeout')
    seen = []
    monkeypatch.setattr(dist_module, 'init_gloo',
                        lambda launcher, timeout: seen.append(timeout))
    cfg.env_cfg.dist_cfg.timeout = 42
    setup_distributed(cfg, 'pytorch')
    assert seen == [42]


@pytest.mark.parametrize('overrides, key', [
    (dict(runner_type='FlexibleRunner'), 'runner_type'),
    (dict(strategy=dict(type='FSDPStrategy')), 'strategy'),
    (dict(model_wrapper_cfg=dict(type='MMFullyShardedDataParallel')),
     'model_wrapper_cfg.type'),
])
def test_fsdp_is_refused_with_a_reason(tmp_path, overrides, key):
    with pytest.raises(ConfigError, match=f'{key}.*FSDP is not supported'):
        check_config(toy_cfg(tmp_path, 'fsdp', **overrides))
