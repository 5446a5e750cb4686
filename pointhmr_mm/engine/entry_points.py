"""What ``tools/train.py`` and ``tools/test.py`` share: the common command
line, its folding into the config, the set-up before the Runner and the
clean-up after it."""
import argparse
import gc
import importlib.util
import os
import os.path as osp
from typing import Callable

import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.dist import barrier, is_distributed, is_main_process
from mmengine.runner import Runner

from pointhmr_mm.setup_env import register_all_modules
from pointhmr_mm.synthetic.quickstart import prepare_config_assets
from pointhmr_mm.utils.config_keys import walk_dotted
from .checkpoint_files import CheckpointError
# ConfigError is re-exported: the tools import it here
from .config_check import ConfigError  # noqa: F401
from .dist import LAUNCHERS, setup_distributed
from .runner import build_runner

WORK_DIRS = './work_dirs'
# --vis-backend NAME -> (mmengine vis backend, module it needs, pip package)
VIS_BACKENDS = dict(
    tensorboard=('TensorboardVisBackend', 'torch.utils.tensorboard',
                 'tensorboard'),
    local=('LocalVisBackend', None, None))


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher`` and the
    ``--local-rank`` that ``torch.distributed.launch`` passes."""
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument(
        '--vis-backend', nargs='+', choices=sorted(VIS_BACKENDS),
        help='also log to these mmengine vis backends (tensorboard: '
        'TensorboardVisBackend, event files under <work dir>/<time>/'
        'vis_data)')
    parser.add_argument('--launcher', default='none', choices=LAUNCHERS)
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


AMP_WRAPPERS = ('AmpOptimWrapper', 'PortableAmpOptimWrapper')
# AmpOptimWrapper's own arguments, which a plain OptimWrapper refuses
AMP_ONLY_KEYS = ('dtype', 'loss_scale', 'use_fsdp', 'enabled',
                 'cache_enabled')


def add_amp_args(parser: argparse.ArgumentParser) -> None:
    """``--amp`` / ``--no-amp`` (see :func:`apply_amp_args`)."""
    amp = parser.add_mutually_exclusive_group()
    amp.add_argument('--amp', action='store_true',
                     help='bf16 automatic mixed precision on any device '
                     '(PortableAmpOptimWrapper), also where the config '
                     "says enabled='auto'")
    amp.add_argument('--no-amp', action='store_true',
                     help='fp32, also where the config turns AMP on (the '
                     'recipe configs do)')


def apply_amp_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Fold ``--amp`` / ``--no-amp`` into ``cfg.optim_wrapper``."""
    wrapper = cfg.optim_wrapper
    if args.amp and wrapper.get('type') in AMP_WRAPPERS:
        wrapper.enabled = True  # over the config's 'auto' or False
    elif args.amp:
        wrapper.type = 'PortableAmpOptimWrapper'
        wrapper.setdefault('dtype', 'bfloat16')
    if args.no_amp and wrapper.get('type') in AMP_WRAPPERS:
        wrapper.type = 'OptimWrapper'
        for key in AMP_ONLY_KEYS:
            wrapper.pop(key, None)
    return cfg


def export_local_rank(args: argparse.Namespace) -> None:
    """Make ``--local-rank`` visible as ``LOCAL_RANK`` (torchrun's)."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))


def _option_conflict(cfg: Config, key: str, value) -> str:
    """Why ``--cfg-options key=value`` cannot be merged: the first part of
    the dotted ``key`` that is a value, not a dict, in ``cfg``."""
    parts = key.split('.')
    for where, node in walk_dotted(cfg._cfg_dict, '.'.join(parts[:-1])):
        if where and not isinstance(node, (dict, list, tuple)):
            depth = where.count('.') + 1
            return (f'--cfg-options {key}={value!r}: {where} is '
                    f'{type(node).__name__} {node!r} in the config, not a '
                    f'dict, so it has no key {parts[depth]!r} (a '
                    'typo in the key?)')
    return f'--cfg-options {key}={value!r} does not fit the config'


def merge_cfg_options(cfg: Config, options: dict) -> Config:
    """``cfg.merge_from_dict(options)``, one option at a time, so that a
    bad one is named.

    Raises:
        ConfigError: An option goes through a key whose value is not a
            dict (mmengine's bare ``TypeError`` names only the last key).
    """
    for key, value in options.items():
        try:
            cfg.merge_from_dict({key: value})
        except TypeError as err:
            raise ConfigError(_option_conflict(cfg, key, value)) from err
    return cfg


def add_vis_backends(cfg: Config, names) -> Config:
    """Append the vis backends ``--vis-backend`` names to
    ``cfg.visualizer.vis_backends`` (once each).

    Raises:
        ConfigError: The backend's package is missing, or the config has
            no ``visualizer``.
    """
    if not names:
        return cfg
    if cfg.get('visualizer') is None:
        raise ConfigError(f'--vis-backend: {cfg.filename} has no visualizer')
    backends = cfg.visualizer.get('vis_backends') or []
    for name in names:
        backend, module, package = VIS_BACKENDS[name]
        if module is not None and importlib.util.find_spec(package) is None:
            raise ConfigError(
                f'--vis-backend {name} needs the {package} package '
                f'({module}): pip install {package}')
        if not any(b.get('type') == backend for b in backends):
            backends.append(dict(type=backend))
    cfg.visualizer.vis_backends = backends
    return cfg


def apply_common_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Fold ``--cfg-options``, ``--vis-backend`` and ``--work-dir``
    (default ``./work_dirs/<config name>``) into ``cfg`` in place.

    Raises:
        ConfigError: See :func:`merge_cfg_options`, :func:`add_vis_backends`.
    """
    if args.cfg_options:
        merge_cfg_options(cfg, args.cfg_options)
    add_vis_backends(cfg, getattr(args, 'vis_backend', None))
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join(
            WORK_DIRS, osp.splitext(osp.basename(args.config))[0])
    return cfg


def prepare_runner(cfg: Config, launcher: str) -> Runner:
    """Start the process group, let one process make missing quick-start
    assets while the others wait, then build the Runner."""
    setup_distributed(cfg, launcher)
    if is_main_process():
        prepare_config_assets(cfg)
    if is_distributed():
        barrier()
    return build_runner(cfg)


def close_distributed() -> None:
    """Free what still uses the process group, then destroy it.

    Left to interpreter exit, a DDP model (kept alive by reference cycles)
    can outlive gloo's threads, and the process then sometimes aborts
    ("terminate called without an active exception") after a finished
    run, which torchrun reports as a failure. Seen in about 1 of 6 two-rank
    CPU runs; none in 24 with this. Call it once the runner is no longer
    referenced.
    """
    gc.collect()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def run_tool(args: argparse.Namespace,
             merge_args: Callable[[Config, argparse.Namespace], Config],
             method: str) -> None:
    """Load ``args.config``, fold the command line in with ``merge_args``,
    then call the Runner's ``method`` (``'train'`` or ``'test'``) and
    clean up the process group whatever happens."""
    register_all_modules()
    try:
        cfg = merge_args(Config.fromfile(args.config), args)
    except ConfigError as err:
        raise SystemExit(f'error: {err}') from None
    try:
        getattr(prepare_runner(cfg, args.launcher), method)()
    except (ConfigError, CheckpointError) as err:
        # found before the first step (config, paths, checkpoint)
        raise SystemExit(f'error: {err}') from None
    finally:
        close_distributed()
