"""Two gloo processes on CPU: disjoint samples and a DDP training run."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
TOY = ROOT / 'tests' / 'data' / 'toy'

WORKER = r'''
import json, os, sys
import torch.distributed as dist
from mmengine.config import Config
from pointhmr_mm.engine import PointHMRRunner, setup_distributed
from pointhmr_mm.utils import register_all_modules

register_all_modules()
cfg = Config.fromfile(sys.argv[1])
cfg.work_dir = sys.argv[2]
cfg.launcher = 'pytorch'
cfg.train_cfg.max_epochs = 1
setup_distributed(cfg, 'pytorch')
runner = PointHMRRunner.from_cfg(cfg)
loader = runner.build_dataloader(cfg.train_dataloader)
seen = [int(i) for batch in loader for i in batch['data_samples']]
runner.train()
wrapped = type(runner.model).__name__
with open(os.path.join(sys.argv[2], f'rank{dist.get_rank()}.json'), 'w') as f:
    json.dump(dict(seen=seen, wrapper=wrapped), f)
'''


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_ranks_see_disjoint_samples_and_train(tmp_path):
    script = tmp_path / 'worker.py'
    script.write_text(WORKER)
    env = dict(os.environ, PYTHONPATH=f'{TOY}{os.pathsep}'
               f'{os.environ.get("PYTHONPATH", "")}', OMP_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'torch.distributed.run',
           '--nproc_per_node=2', f'--master_port={free_port()}',
           str(script), str(TOY / 'toy_config.py'), str(tmp_path)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [json.loads((tmp_path / f'rank{r}.json').read_text())
             for r in range(2)]
    a, b = set(ranks[0]['seen']), set(ranks[1]['seen'])
    assert a and b and not a & b
    assert a | b == set(range(16))
    assert all(r['wrapper'] == 'MMDistributedDataParallel' for r in ranks)
    assert (tmp_path / 'epoch_1.pth').exists()
