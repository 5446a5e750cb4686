"""mmengine's Runner with exact resumption and atomic checkpoints.

A resumed run must end with the same weights as an uninterrupted one. The
data order already is deterministic (mmengine's ``DefaultSampler`` reseeds
each epoch from the seed); what else decides the result is the random
generators (dropout, augmentation, the DataLoader's base seed). So:

* every checkpoint carries the generator states of every rank, and
  :meth:`PointHMRRunner.resume` restores them;
* validation runs inside training leave the generators as they found them,
  because the checkpoint of an epoch is written before its validation;
* the augmentation of each training sample is seeded from (seed, epoch,
  sample) in whichever DataLoader worker serves it, so fresh workers of a
  resumed run repeat what the persistent workers of the uninterrupted run
  did (:meth:`PointHMRRunner.build_dataloader`).

A checkpoint is written to ``<name>.tmp`` in the same folder, flushed to
disk and renamed over ``<name>``, so a run killed mid-save keeps the
previous file (``SafeCheckpointHook`` moves the ``last_checkpoint`` pointer
only after that).
"""
import copy
import os.path as osp
import random
from typing import List, Optional

import numpy as np
import torch
import torch.distributed as dist
from mmengine.dist import get_dist_info, is_main_process, master_only
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner, find_latest_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from pointhmr_mm.datasets.seeded_sampling import (  # registers the sampler
    SeededSampleDataset)
from pointhmr_mm.registry import DATASETS, RUNNERS
from pointhmr_mm.utils.atomic_io import write_atomically
from pointhmr_mm.utils.malloc import configure_malloc_from_cfg
from pointhmr_mm.utils.state_dict import check_state_dict
from .config_check import check_config
from .checkpoint_files import (CheckpointError, model_state_dict,
                               newest_checkpoint, read_checkpoint,
                               require_training_state, step_checkpoints)
from .safe_load import allow_mmengine_checkpoints

allow_mmengine_checkpoints()

RNG_META_KEY = 'rng_states'  # list of per-rank states in checkpoint meta
POINTER_NAME = 'last_checkpoint'  # mmengine's pointer in the work dir
RNG_KEYS = ('python', 'numpy', 'torch')
DEFAULT_SAMPLERS = ('DefaultSampler', 'mmengine.DefaultSampler')
# the default_hooks keys mmengine's Runner has hooks for
MMENGINE_DEFAULT_HOOKS = ('runtime_info', 'timer', 'sampler_seed', 'logger',
                          'param_scheduler', 'checkpoint')


def get_rng_states() -> dict:
    """This process's generator states.

    Returns:
        dict with ``python`` (``random.getstate()``), ``numpy``
        (``np.random.get_state()``), ``torch`` (CPU ByteTensor) and, once
        CUDA is initialised, ``cuda`` (list of ByteTensors, one per device).
    """
    states = dict(python=random.getstate(), numpy=np.random.get_state(),
                  torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    """Restore what :func:`get_rng_states` returned.

    Raises:
        KeyError: If ``python``, ``numpy`` or ``torch`` is missing.
    """
    missing = [key for key in RNG_KEYS if key not in states]
    if missing:
        raise KeyError(f'RNG states lack {missing} (have {sorted(states)})')
    random.setstate(states['python'])
    np.random.set_state(states['numpy'])
    torch.set_rng_state(states['torch'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


@RUNNERS.register_module()
class PointHMRRunner(Runner):
    """mmengine ``Runner`` whose checkpoints resume exactly and are written
    atomically. Built like any Runner (``runner_type='PointHMRRunner'``).
    """

    def _gather_rng_states(self) -> List[dict]:
        """Per-rank generator states (a collective: every rank calls it).

        Inside a validation (a best checkpoint, and the epoch's checkpoint
        saved again with the new best) these are the states from before
        it, which :meth:`call_hook` restores when it ends: the resumed run
        goes on from there, not from wherever validation left them."""
        states = getattr(self, '_rng_before_val', None) or get_rng_states()
        if not (dist.is_available() and dist.is_initialized()):
            return [states]
        gathered = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, states)
        return gathered

    def save_checkpoint(self, out_dir: str, filename: str, *args,
                        meta: Optional[dict] = None, **kwargs) -> None:
        """As ``Runner.save_checkpoint`` (same arguments), plus RNG states in
        ``meta['rng_states']`` and an atomic write for local folders.

        Unlike the parent this is called on every rank, since gathering
        the states is a collective; only the main process writes.
        """
        meta = dict(meta or {})
        meta[RNG_META_KEY] = self._gather_rng_states()
        if not is_main_process():
            return
        if '://' in out_dir:  # object stores have no rename; write directly
            super().save_checkpoint(out_dir, filename, *args, meta=meta,
                                    **kwargs)
            return

        def write(tmp_path: str) -> None:
            super(PointHMRRunner, self).save_checkpoint(
                out_dir, osp.basename(tmp_path), *args, meta=meta, **kwargs)

        write_atomically(osp.join(out_dir, filename), write)

    def build_dataloader(self, dataloader, seed: Optional[int] = None,
                         diff_rank_seed: bool = False):
        """As ``Runner.build_dataloader``; a training loader whose sampler
        is a ``DefaultSampler`` gets an ``EpochSeededSampler`` (same
        order) and its dataset a ``SeededSampleDataset`` wrapper, so each
        sample's augmentation depends only on (seed, epoch, sample) and a
        resumed run repeats it with persistent workers too
        (:mod:`pointhmr_mm.datasets.seeded_sampling`)."""
        is_train = dataloader is self._train_dataloader
        if is_train and isinstance(dataloader, dict) and \
                isinstance(dataloader.get('sampler'), dict) and \
                dataloader['sampler'].get('type') in DEFAULT_SAMPLERS:
            dataloader = copy.copy(dataloader)
            dataloader['sampler'] = dict(dataloader['sampler'],
                                         type='EpochSeededSampler')
            dataset = dataloader['dataset']
            if isinstance(dataset, dict):
                dataset = DATASETS.build(dataset)
                if hasattr(dataset, 'full_init'):
                    dataset.full_init()
            dataloader['dataset'] = SeededSampleDataset(dataset)
        loader = Runner.build_dataloader(dataloader, seed=seed,
                                         diff_rank_seed=diff_rank_seed)
        if is_train:
            # A DataLoader draws its workers' base seed from the global
            # torch generator whenever it starts workers: every epoch, or
            # only once with persistent workers, so a resumed run would
            # draw once more than the uninterrupted one. Its own generator
            # keeps the global stream (dropout, ...) out of it; the
            # augmentation does not depend on the base seed.
            loader.generator = torch.Generator()
            loader.generator.manual_seed(0 if seed is None else seed)
        return loader

    def setup_env(self, env_cfg: dict) -> None:
        """As ``Runner.setup_env``, plus ``env_cfg.malloc_cfg``: glibc
        malloc thresholds (:mod:`pointhmr_mm.utils.malloc`)."""
        super().setup_env(env_cfg)
        # logged by build_logger: the Runner makes its logger later
        self._malloc_applied = configure_malloc_from_cfg(
            env_cfg.get('malloc_cfg'))

    def build_logger(self, *args, **kwargs):
        """As ``Runner.build_logger``; also logs the malloc settings."""
        logger = super().build_logger(*args, **kwargs)
        applied = getattr(self, '_malloc_applied', None)
        if applied:
            logger.info(f'glibc malloc settings (env_cfg.malloc_cfg): '
                        f'{applied}')
        return logger

    def load_checkpoint(self, filename: str, map_location='cpu',
                        strict: Optional[bool] = None,
                        revise_keys=((r'^module\.', ''), )) -> dict:
        """As ``Runner.load_checkpoint``, with clear errors and strict by
        default; keeps the meta for :meth:`resume`.

        Args:
            filename: The checkpoint.
            map_location: As ``torch.load``.
            strict: Refuse weights that do not fit the model. None (the
                default): the config's ``load_strict`` (True unless set,
                e.g. ``--cfg-options load_strict=False``).
            revise_keys: ``(pattern, replacement)`` pairs for the keys.

        Raises:
            CheckpointError: An empty or unreadable file; with ``strict``,
                weights that do not fit (missing, unexpected and
                shape-mismatched keys named); when resuming, a file
                without training state.
        """
        if strict is None:
            strict = bool(self.cfg.get('load_strict', True))
        checkpoint = read_checkpoint(filename, map_location)
        if getattr(self, '_resuming', False):
            require_training_state(checkpoint, filename)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) \
            else self.model
        if strict:
            try:
                check_state_dict(model, model_state_dict(
                    checkpoint, revise_keys), filename)
            except RuntimeError as err:
                raise CheckpointError(
                    f'{err}\n(to load what fits anyway: --cfg-options '
                    'load_strict=False)') from None
        checkpoint = _load_checkpoint_to_model(
            model, checkpoint, strict, revise_keys=list(revise_keys))
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        self._loaded_meta = checkpoint.get('meta') or {}
        return checkpoint

    def resume(self, filename: str, *args, **kwargs) -> None:
        """As ``Runner.resume``, then restore this rank's RNG states.

        Raises:
            CheckpointError: ``filename`` holds no training state (use
                ``load_from``).
        """
        self._loaded_meta = {}
        self._resuming = True
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False
        states = self._loaded_meta.get(RNG_META_KEY)
        self._loaded_meta = {}
        if not states:
            self.logger.warning(f'{filename} holds no RNG states; the run '
                                'goes on with freshly seeded generators')
            return
        rank, world_size = get_dist_info()
        if len(states) != world_size:
            self.logger.warning(
                f'{filename} was saved by {len(states)} processes, now '
                f'{world_size} run; rank {rank} takes the states of rank '
                f'{rank % len(states)}, so the run will not repeat exactly')
        set_rng_states(states[rank % len(states)])

    def load_or_resume(self) -> None:
        """As ``Runner.load_or_resume``; auto-resume (``resume=True``
        without ``load_from``) also finds the checkpoint when the work dir
        was moved, and says so when there is none."""
        if self._resume and self._load_from is None and not self._has_loaded:
            self._load_from = self._latest_checkpoint()
            if self._load_from is None:
                self.logger.warning(
                    f'resume: no {POINTER_NAME} and no checkpoint in '
                    f'{self.work_dir}; '
                    'training starts from the beginning')
                self._resume = False
        super().load_or_resume()

    def _latest_checkpoint(self) -> Optional[str]:
        """The newest complete checkpoint of the work dir: the one
        ``last_checkpoint`` names (or one of that name in the work dir, when
        the dir was moved), unless a later one was completed after the
        pointer was written; without a pointer, the highest
        ``epoch_N``/``iter_N.pth`` (a kill between a checkpoint's rename and
        its pointer). None when there is neither."""
        pointer_file = osp.join(self.work_dir, POINTER_NAME)
        named = find_latest_checkpoint(self.work_dir)
        if named is not None and '://' in named:
            return named
        if named is not None and not osp.isfile(named):
            moved = osp.join(self.work_dir, osp.basename(named))
            if osp.isfile(moved):
                named = moved
            elif step_checkpoints(self.work_dir):
                self.logger.warning(f'resume: {pointer_file} names {named}'
                                    ', which does not exist')
                named = None  # the newest checkpoint there is
            else:
                raise FileNotFoundError(
                    f'{pointer_file} names {named}, which does not exist '
                    f'(nor does {moved}); pass --resume CKPT')
        found = newest_checkpoint(
            self.work_dir, named,
            pointer_file if osp.isfile(pointer_file) else None)
        if found is not None and named is not None and found != named:
            self.logger.warning(
                f'resume: {POINTER_NAME} names {named}, but {found} was '
                'completed later (the run stopped before the pointer was '
                f'written); resuming from {found}')
        return found

    @master_only
    def dump_config(self) -> None:
        """As ``Runner.dump_config``, but never over the config file the
        run was started from (``train.py work_dir/cfg.py --resume``): that
        one is input; the merged config then goes to the run's log dir."""
        source = self.cfg.filename
        target = osp.join(self.work_dir, osp.basename(source or ''))
        if source and osp.isfile(target) and osp.samefile(source, target):
            self.cfg.dump(osp.join(self.log_dir, osp.basename(source)))
            return
        super().dump_config()

    def call_hook(self, fn_name: str, **kwargs) -> None:
        """As ``Runner.call_hook``; a validation run, hooks included, leaves
        the RNG states as it found them (see the module docstring)."""
        if fn_name == 'before_val':
            self._rng_before_val = get_rng_states()
        super().call_hook(fn_name, **kwargs)
        if fn_name == 'after_val' and \
                getattr(self, '_rng_before_val', None) is not None:
            set_rng_states(self._rng_before_val)
            self._rng_before_val = None


def build_runner(cfg) -> Runner:
    """Build the Runner a config asks for, as mmengine's tools do.

    Args:
        cfg: An mmengine ``Config``; ``runner_type`` (default
            ``'PointHMRRunner'``) names the class, ours or mmengine's.

    Returns:
        The Runner, not yet started.

    Raises:
        ConfigError: A hook, loop, ``env_cfg`` or ``randomness`` key that
            its receiver does not take, or an unwritable ``work_dir``
            (:func:`check_config`): found before anything runs.
    """
    check_config(cfg)
    hooks = cfg.get('default_hooks') or {}
    for name in [k for k, v in hooks.items()
                 if v is None and k not in MMENGINE_DEFAULT_HOOKS]:
        # mmengine accepts None only for its own hooks; for the others
        # (sync_buffers) None means "off" here too
        hooks.pop(name)
    if 'runner_type' not in cfg:
        return PointHMRRunner.from_cfg(cfg)
    return RUNNERS.build(cfg)
