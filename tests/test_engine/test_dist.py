"""Process groups without CUDA: two gloo ranks see disjoint samples and
train with DDP; bad launch settings are refused."""
import json
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from pointhmr_mm.engine import setup_distributed
from pointhmr_mm.engine.dist import ENV_KEYS

from toolbox import subprocess_env

WORKER = r'''
import json, os, sys
import torch
import torch.distributed as dist
from toolbox.toy import toy_cfg
from pointhmr_mm.engine import build_runner, setup_distributed
from pointhmr_mm.engine.entry_points import close_distributed
from pointhmr_mm.setup_env import register_all_modules

register_all_modules()
cfg = toy_cfg(sys.argv[1], 'dist', train_cfg=dict(max_epochs=1))
setup_distributed(cfg, 'pytorch')
runner = build_runner(cfg)
loader = runner.build_dataloader(cfg.train_dataloader)
seen = [int(i) for batch in loader for i in batch['data_samples']]
runner.train()
params = torch.cat([p.detach().flatten() for p in runner.model.parameters()])
gathered = [torch.zeros_like(params) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, params)
out = dict(seen=seen, wrapper=type(runner.model).__name__,
           backend=cfg.env_cfg.dist_cfg.backend,
           device_ids=runner.model.device_ids,
           same_weights=all(torch.equal(g, params) for g in gathered))
with open(os.path.join(sys.argv[1], f'rank{dist.get_rank()}.json'), 'w') as f:
    json.dump(out, f)
del runner, loader
close_distributed()  # as tools/train.py does, with the runner gone
'''


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def gloo_only():
    if torch.cuda.is_available():
        pytest.skip('CUDA present: the tools use nccl through mmengine')


@pytest.mark.slow
def test_two_gloo_ranks_see_disjoint_samples_and_train(tmp_path):
    gloo_only()
    script = tmp_path / 'worker.py'
    script.write_text(WORKER)
    env = subprocess_env(OMP_NUM_THREADS='1')  # the toy config: toolbox
    cmd = [sys.executable, '-m', 'torch.distributed.run',
           '--nproc_per_node=2', f'--master_port={free_port()}',
           str(script), str(tmp_path)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [json.loads((tmp_path / f'rank{r}.json').read_text())
             for r in range(2)]
    a, b = set(ranks[0]['seen']), set(ranks[1]['seen'])
    assert len(a) == len(b) == 8 and not a & b
    assert a | b == set(range(16))  # ToyDataset(size=16)
    for rank in ranks:
        assert rank['wrapper'] == 'MMDistributedDataParallel'
        assert rank['backend'] == 'gloo' and rank['device_ids'] is None
        assert rank['same_weights']  # DDP kept the replicas in step
    ckpt = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)
    assert len(ckpt['meta']['rng_states']) == 2  # one per rank
    assert not list(tmp_path.glob('*.tmp'))


def test_unknown_launcher_is_refused():
    with pytest.raises(ValueError, match='launcher'):
        setup_distributed(Config(dict()), 'ssh')


def test_launcher_none_changes_nothing():
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    setup_distributed(cfg, 'none')
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    assert 'model_wrapper_cfg' not in cfg


def test_missing_launcher_environment_is_named(monkeypatch):
    gloo_only()
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(KeyError, match='RANK'):
        setup_distributed(Config(dict()), 'pytorch')
    monkeypatch.delenv('SLURM_NODELIST', raising=False)
    with pytest.raises(KeyError, match='SLURM_NODELIST'):
        setup_distributed(Config(dict()), 'slurm')
    assert not torch.distributed.is_initialized()
