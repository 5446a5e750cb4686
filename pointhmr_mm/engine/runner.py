"""mmengine's Runner with exact resumption and atomic checkpoints.

A resumed run must end with the same weights as an uninterrupted one. The
data order already is deterministic (mmengine's ``DefaultSampler`` reseeds
each epoch from the seed); what else decides the result is the random
generators (dropout, augmentation, the DataLoader's base seed). So:

* every checkpoint carries the generator states of every rank, and
  :meth:`PointHMRRunner.resume` restores them;
* validation runs inside training leave the generators as they found them,
  because the checkpoint of an epoch is written before its validation.

A checkpoint is written to ``<name>.tmp`` in the same folder, flushed to
disk and renamed over ``<name>``, so a run killed mid-save keeps the
previous file (``SafeCheckpointHook`` moves the ``last_checkpoint`` pointer
only after that).
"""
import os.path as osp
import random
from typing import List, Optional

import numpy as np
import torch
import torch.distributed as dist
from mmengine.dist import get_dist_info, is_main_process, master_only
from mmengine.runner import Runner, find_latest_checkpoint

from pointhmr_mm.registry import RUNNERS
# write_text_atomically is re-exported (hooks and tools import it here)
from pointhmr_mm.utils.atomic_io import (write_atomically,  # noqa: F401
                                         write_text_atomically)
from pointhmr_mm.utils.malloc import configure_malloc_from_cfg
from .safe_load import allow_mmengine_checkpoints

allow_mmengine_checkpoints()

RNG_META_KEY = 'rng_states'  # list of per-rank states in checkpoint meta
POINTER_NAME = 'last_checkpoint'  # mmengine's pointer in the work dir
RNG_KEYS = ('python', 'numpy', 'torch')


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
        """Per-rank generator states (a collective: every rank calls it)."""
        states = get_rng_states()
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

    def load_checkpoint(self, filename: str, *args, **kwargs) -> dict:
        """As ``Runner.load_checkpoint``; keeps the meta for :meth:`resume`."""
        checkpoint = super().load_checkpoint(filename, *args, **kwargs)
        self._loaded_meta = checkpoint.get('meta') or {}
        return checkpoint

    def resume(self, filename: str, *args, **kwargs) -> None:
        """As ``Runner.resume``, then restore this rank's RNG states."""
        self._loaded_meta = {}
        super().resume(filename, *args, **kwargs)
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
                    f'resume: no {POINTER_NAME} in {self.work_dir}; '
                    'training starts from the beginning')
                self._resume = False
        super().load_or_resume()

    def _latest_checkpoint(self) -> Optional[str]:
        """The checkpoint ``last_checkpoint`` names, or one of the same name
        in the work dir; None without a pointer."""
        named = find_latest_checkpoint(self.work_dir)
        if named is None or osp.isfile(named) or '://' in named:
            return named
        moved = osp.join(self.work_dir, osp.basename(named))
        if osp.isfile(moved):
            return moved
        raise FileNotFoundError(
            f'{osp.join(self.work_dir, POINTER_NAME)} names {named}, which '
            f'does not exist (nor does {moved}); pass --resume CKPT')

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
    """
    if 'runner_type' not in cfg:
        return PointHMRRunner.from_cfg(cfg)
    return RUNNERS.build(cfg)
