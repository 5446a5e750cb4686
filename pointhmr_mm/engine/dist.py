"""Process-group set-up that also works without CUDA.

mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` even on
CPU. Without CUDA we create the gloo group ourselves before the Runner
(mmengine then skips its own initialisation) and wrap the model in DDP
without device ids.
"""
import os
import subprocess

import torch
import torch.distributed as dist

DEFAULT_PORT = '29500'


def _slurm_env() -> None:
    """Fill torchrun-style variables from SLURM's."""
    proc_id = int(os.environ['SLURM_PROCID'])
    node_list = os.environ['SLURM_NODELIST']
    addr = subprocess.getoutput(
        f'scontrol show hostname {node_list} | head -n1')
    os.environ.setdefault('MASTER_ADDR', addr)
    os.environ.setdefault('MASTER_PORT', DEFAULT_PORT)
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['RANK'] = str(proc_id)
    os.environ['LOCAL_RANK'] = str(proc_id % torch.cuda.device_count()
                                   if torch.cuda.is_available() else 0)


def setup_distributed(cfg, launcher: str) -> None:
    """Prepare ``cfg`` and, on CPU, the gloo process group."""
    if launcher == 'none':
        return
    if launcher == 'slurm':
        _slurm_env()
    if torch.cuda.is_available():
        cfg.setdefault('model_wrapper_cfg', dict(
            type='MMDistributedDataParallel', find_unused_parameters=True))
        return
    if not dist.is_initialized():
        dist.init_process_group('gloo', init_method='env://')
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                                 device_ids=None,
                                 find_unused_parameters=True)
