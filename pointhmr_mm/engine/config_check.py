"""Configuration errors found before the Runner starts.

mmengine passes some settings on without looking at them: a hook takes
``**kwargs`` (``CheckpointHook`` forwards unknown keys to
``Runner.save_checkpoint``, which refuses them only when the first
checkpoint is saved, after a whole epoch), ``env_cfg`` keys it does not
know are ignored, and an output folder is found unwritable only when the
first file is written. :func:`check_config` checks these keys against the
classes that will receive them and names the config key that is wrong.
"""
import difflib
import inspect
import os.path as osp
import tempfile
from typing import Iterable, Optional

from mmengine.hooks import CheckpointHook
from mmengine.runner import Runner

from pointhmr_mm.registry import HOOKS, LOG_PROCESSORS, LOOPS, RUNNERS

# what CheckpointHook passes to save_checkpoint itself
CHECKPOINT_HOOK_PASSES = ('out_dir', 'filename', 'file_client_args',
                          'save_optimizer', 'save_param_scheduler', 'meta',
                          'by_epoch', 'backend_args')
# keys Runner.register_hook and the registry take from a hook's dict
HOOK_DICT_KEYS = ('type', 'priority')
# env_cfg keys mmengine's Runner.setup_env reads, plus PointHMRRunner's
ENV_CFG_KEYS = ('cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit',
                'malloc_cfg')
# train_cfg without a type: mmengine picks the loop by by_epoch
DEFAULT_TRAIN_LOOPS = {True: 'EpochBasedTrainLoop',
                       False: 'IterBasedTrainLoop'}
LOOP_CFGS = dict(val_cfg='ValLoop', test_cfg='TestLoop')
# sharded training, refused (see check_no_fsdp)
FSDP_RUNNERS = ('FlexibleRunner', 'mmengine.FlexibleRunner')
FSDP_WRAPPERS = ('MMFullyShardedDataParallel',
                 'mmengine.MMFullyShardedDataParallel')


class ConfigError(ValueError):
    """A configuration (or command line) that cannot run; the tools print
    it without a traceback."""


def _parameters(func) -> tuple:
    """(named parameters, whether it takes ``**kwargs``)."""
    params = inspect.signature(func).parameters.values()
    named = [p.name for p in params if p.kind not in (
        p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return named, any(p.kind == p.VAR_KEYWORD for p in params)


def _refuse(where: str, unknown: Iterable[str], allowed: Iterable[str],
            receiver: str) -> None:
    unknown, allowed = sorted(unknown), sorted(allowed)
    if not unknown:
        return
    key = unknown[0]
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f' (did you mean {where}.{close[0]}?)' if close else ''
    raise ConfigError(f'{where}.{key}: {receiver} takes no argument '
                      f'{key!r}{hint}; it takes {allowed}')


def _check_kwargs(where: str, cfg: dict, cls, ignore=()) -> None:
    """Refuse keys of ``cfg`` that ``cls.__init__`` does not take (nothing
    is refused if it takes ``**kwargs``)."""
    named, var_kw = _parameters(cls.__init__)
    if var_kw:
        return
    allowed = [n for n in named if n != 'self'] + list(ignore)
    _refuse(where, set(cfg) - set(allowed) - {'type'}, allowed,
            cls.__name__)


def _save_checkpoint_args(runner_cls) -> list:
    """Arguments of the first ``save_checkpoint`` in ``runner_cls``'s MRO
    that names them (PointHMRRunner's passes ``**kwargs`` on)."""
    for cls in runner_cls.__mro__:
        if 'save_checkpoint' in vars(cls):
            named, var_kw = _parameters(vars(cls)['save_checkpoint'])
            if not var_kw:
                return [n for n in named if n != 'self']
    return _parameters(Runner.save_checkpoint)[0][1:]


def _check_hook(where: str, hook: dict, runner_cls) -> None:
    cls = HOOKS.get(hook.get('type')) if isinstance(
        hook.get('type'), str) else hook.get('type')
    if not inspect.isclass(cls):
        return  # an unknown type: the registry names it when building
    _check_kwargs(where, hook, cls, ignore=HOOK_DICT_KEYS)
    if not issubclass(cls, CheckpointHook):
        return
    # CheckpointHook sends keys it does not know to save_checkpoint
    own, _ = _parameters(cls.__init__)
    passed = [k for k in _save_checkpoint_args(runner_cls)
              if k not in CHECKPOINT_HOOK_PASSES]
    allowed = [k for k in own if k != 'self'] + passed + \
        list(HOOK_DICT_KEYS)
    _refuse(where, set(hook) - set(allowed), allowed,
            f'{cls.__name__} (or {runner_cls.__name__}.save_checkpoint)')


def check_hooks(cfg) -> None:
    """Check ``default_hooks`` and ``custom_hooks`` (see module doc)."""
    runner_cls = RUNNERS.get(cfg.get('runner_type') or 'PointHMRRunner') \
        or Runner
    for name, hook in (cfg.get('default_hooks') or {}).items():
        if isinstance(hook, dict):
            _check_hook(f'default_hooks.{name}', hook, runner_cls)
    for index, hook in enumerate(cfg.get('custom_hooks') or []):
        if isinstance(hook, dict):
            _check_hook(f'custom_hooks[{index}]', hook, runner_cls)


def _registered(registry, name) -> Optional[type]:
    cls = registry.get(name) if isinstance(name, str) else name
    return cls if inspect.isclass(cls) else None


def check_runner_keys(cfg) -> None:
    """Check the loops' configs, ``randomness``, ``env_cfg`` and
    ``log_processor`` against what receives them."""
    train = cfg.get('train_cfg')
    if isinstance(train, dict):
        loop = train.get('type') or DEFAULT_TRAIN_LOOPS[bool(
            train.get('by_epoch', True))]
        cls = _registered(LOOPS, loop)
        if cls is not None:
            _check_kwargs('train_cfg', train, cls,
                          ignore=('by_epoch', 'runner', 'dataloader'))
    for key, default in LOOP_CFGS.items():
        loop_cfg = cfg.get(key)
        if isinstance(loop_cfg, dict):
            cls = _registered(LOOPS, loop_cfg.get('type') or default)
            if cls is not None:
                _check_kwargs(key, loop_cfg, cls, ignore=(
                    'runner', 'dataloader', 'evaluator'))
    if isinstance(cfg.get('randomness'), dict):
        allowed = _parameters(Runner.set_randomness)[0][1:]
        _refuse('randomness', set(cfg.randomness) - set(allowed), allowed,
                'Runner.set_randomness')
    if isinstance(cfg.get('env_cfg'), dict):
        _refuse('env_cfg', set(cfg.env_cfg) - set(ENV_CFG_KEYS),
                ENV_CFG_KEYS, 'the Runner (setup_env)')
    processor = cfg.get('log_processor')
    if isinstance(processor, dict):
        cls = _registered(LOG_PROCESSORS,
                          processor.get('type') or 'LogProcessor')
        if cls is not None:
            _check_kwargs('log_processor', processor, cls)


def check_no_fsdp(cfg) -> None:
    """Refuse FSDP (mmengine's ``FlexibleRunner`` or its FSDP wrapper).

    With mmengine 0.10.7 an FSDP run of this project trains, but its
    checkpoints cannot be resumed (the optimizer state is saved sharded and
    the runner cannot load it back), ``FlexibleRunner`` has none of
    ``PointHMRRunner``'s exact resume and atomic checkpoints, and it wants
    CUDA. The models here fit one GPU, so DDP (``tools/dist_train.sh``)
    is the supported way to use several.

    Raises:
        ConfigError: Naming the key that asks for FSDP.
    """
    reason = ('FSDP is not supported here: mmengine 0.10.7 cannot resume '
              'its checkpoints and FlexibleRunner lacks the exact resume '
              'and atomic checkpoints of PointHMRRunner; train with DDP '
              '(tools/dist_train.sh, tools/slurm_train.sh; docs/cluster.md)')
    if cfg.get('runner_type') in FSDP_RUNNERS or cfg.get('strategy'):
        key = 'runner_type' if cfg.get('runner_type') in FSDP_RUNNERS \
            else 'strategy'
        raise ConfigError(f'{key}={cfg.get(key)!r}: {reason}')
    wrapper = cfg.get('model_wrapper_cfg') or {}
    if isinstance(wrapper, dict) and wrapper.get('type') in FSDP_WRAPPERS:
        raise ConfigError(f'model_wrapper_cfg.type={wrapper["type"]!r}: '
                          f'{reason}')


def check_writable(path: str, what: str, is_dir: bool = False) -> None:
    """Raise unless ``path`` can be written (its missing folders made).

    Probes the nearest existing folder with a temporary file, which also
    catches read-only file systems and root-owned mounts where
    ``os.access`` answers True for root.

    Raises:
        ConfigError: Naming ``what`` and the folder that is in the way.
    """
    if '://' in str(path):
        return  # object stores are checked by their backend
    path = osp.abspath(path)
    if is_dir and osp.isfile(path):
        raise ConfigError(f'{what} {path} is a file, not a folder')
    if not is_dir and osp.isdir(path):
        raise ConfigError(f'{what} {path} is a folder, not a file')
    folder = path if is_dir else osp.dirname(path)
    while not osp.exists(folder):
        folder = osp.dirname(folder)
    if not osp.isdir(folder):
        raise ConfigError(f'{what} {path} cannot be written: {folder} is '
                          'a file, not a folder')
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ConfigError(f'{what} {path} cannot be written: {folder} '
                          f'refuses new files ({err.strerror})') from None


def check_config(cfg) -> None:
    """Everything above (FSDP refused), plus a writable ``work_dir``.

    Raises:
        ConfigError: Naming the first wrong key or unwritable path.
    """
    check_no_fsdp(cfg)
    check_hooks(cfg)
    check_runner_keys(cfg)
    if cfg.get('work_dir'):
        check_writable(cfg.work_dir, 'work_dir', is_dir=True)
