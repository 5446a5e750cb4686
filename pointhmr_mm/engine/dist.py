"""Process-group set-up for the tools, with or without CUDA.

mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` even for
gloo, so it cannot start a CPU run. Without CUDA the gloo group is created
here from the launcher's environment before the Runner is built (the
Runner then skips its own initialisation), and the model is wrapped in DDP
without device ids. With CUDA mmengine's own path (nccl) is used.
"""
import datetime
import os
import subprocess

import torch
import torch.distributed as dist
from mmengine.dist import init_dist

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
DEFAULT_PORT = '29500'  # mmengine's and torchrun's default master port
ENV_KEYS = ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
DDP_WRAPPER = 'MMDistributedDataParallel'


def _fill_env_from_slurm() -> None:
    """Set torchrun's variables from those of an ``srun`` task."""
    nodes = os.environ['SLURM_NODELIST']
    os.environ.setdefault('MASTER_ADDR', subprocess.getoutput(
        f'scontrol show hostname {nodes} | head -n1'))
    os.environ.setdefault('MASTER_PORT', os.environ.get('PORT', DEFAULT_PORT))
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')


def _fill_env_from_mpi() -> None:
    """Set torchrun's variables from Open MPI's (``mpirun``)."""
    os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
    os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
    os.environ['LOCAL_RANK'] = os.environ['OMPI_COMM_WORLD_LOCAL_RANK']
    os.environ.setdefault('MASTER_PORT', DEFAULT_PORT)


def init_gloo(launcher: str, timeout_s: float = None) -> None:
    """Create the gloo process group from the launcher's environment.

    Args:
        launcher: ``'pytorch'`` (torchrun), ``'slurm'`` or ``'mpi'``.
        timeout_s: Collective timeout in seconds (torch's default if None).

    Raises:
        KeyError: If the environment lacks a variable the launcher sets.
    """
    fill = dict(slurm=_fill_env_from_slurm, mpi=_fill_env_from_mpi)
    try:
        fill.get(launcher, lambda: None)()
    except KeyError as err:
        raise KeyError(f'--launcher {launcher}: environment variable {err} '
                       'is not set; start the tool through the launcher')
    missing = [key for key in ENV_KEYS if key not in os.environ]
    if missing:
        raise KeyError(f'--launcher {launcher}: environment variables '
                       f'{missing} are not set; start the tool through '
                       'tools/dist_train.sh (torchrun) or the launcher')
    kwargs = {} if timeout_s is None else dict(
        timeout=datetime.timedelta(seconds=timeout_s))
    dist.init_process_group('gloo', init_method='env://', **kwargs)


def setup_distributed(cfg, launcher: str) -> None:
    """Start the process group for ``launcher`` and adapt ``cfg`` to it.

    Sets ``cfg.launcher`` and ``cfg.env_cfg.dist_cfg.backend`` (``'nccl'``
    with CUDA unless the config names another, ``'gloo'`` without) and,
    without CUDA, a DDP ``model_wrapper_cfg`` with ``device_ids=None``
    (other wrapper settings in the config are kept; ``find_unused_parameters``
    is read from the config's top level, as mmengine does).

    Args:
        cfg: The mmengine ``Config`` of the run; changed in place.
        launcher: One of ``'none'``, ``'pytorch'``, ``'slurm'``, ``'mpi'``.

    Raises:
        ValueError: For an unknown launcher.
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f'launcher must be one of {LAUNCHERS}, got '
                         f'{launcher!r}')
    cfg.launcher = launcher
    if launcher == 'none':
        return
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    if torch.cuda.is_available():
        dist_cfg.setdefault('backend', 'nccl')
    else:
        dist_cfg['backend'] = 'gloo'
    env_cfg['dist_cfg'] = dist_cfg
    if torch.cuda.is_available():
        if not dist.is_initialized():
            init_dist(launcher, **dist_cfg)
        return
    if not dist.is_initialized():
        init_gloo(launcher, dist_cfg.get('timeout'))
    wrapper = dict(type=DDP_WRAPPER, broadcast_buffers=False,
                   find_unused_parameters=cfg.get('find_unused_parameters',
                                                  False))
    wrapper.update(cfg.get('model_wrapper_cfg') or {})
    if wrapper['type'] in (DDP_WRAPPER, f'mmengine.{DDP_WRAPPER}'):
        wrapper['device_ids'] = None  # CPU modules take no device ids
    cfg.model_wrapper_cfg = wrapper
