"""mmengine's Runner with exact resumption and atomic checkpoints."""
import os
import os.path as osp
import random
from typing import Optional

import numpy as np
import torch
import torch.distributed as dist
from mmengine.runner import Runner

from pointhmr_mm.registry import RUNNERS
from .safe_load import allow_mmengine_checkpoints

allow_mmengine_checkpoints()
TMP_SUFFIX = '.tmp'


def get_rng_states() -> dict:
    """Python, numpy, torch (and CUDA) generator states."""
    states = dict(python=random.getstate(), numpy=np.random.get_state(),
                  torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    random.setstate(states['python'])
    np.random.set_state(states['numpy'])
    torch.set_rng_state(states['torch'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


def replace_atomically(tmp_path: str, path: str) -> None:
    """fsync ``tmp_path`` and move it over ``path`` in one step."""
    with open(tmp_path, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, path)


@RUNNERS.register_module()
class PointHMRRunner(Runner):
    """A Runner whose checkpoints carry the RNG states (restored on
    resume) and are written to a temporary file first, then renamed, so a
    run killed mid-save keeps its previous checkpoint.

    Per-rank RNG states are gathered so every rank resumes its own stream.
    """

    def save_checkpoint(self, out_dir: str, filename: str, *args,
                        meta: Optional[dict] = None, **kwargs):
        meta = dict(meta or {})
        states = get_rng_states()
        if dist.is_available() and dist.is_initialized():
            gathered = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, states)
            meta['rng_states'] = gathered
        else:
            meta['rng_states'] = [states]
        local = '://' not in out_dir
        target = filename + TMP_SUFFIX if local else filename
        super().save_checkpoint(out_dir, target, *args, meta=meta, **kwargs)
        tmp_path = osp.join(out_dir, target)
        if local and osp.exists(tmp_path):
            replace_atomically(tmp_path, osp.join(out_dir, filename))

    def load_checkpoint(self, filename: str, *args, **kwargs):
        checkpoint = super().load_checkpoint(filename, *args, **kwargs)
        self._loaded_meta = checkpoint.get('meta', {})
        return checkpoint

    def resume(self, filename: str, *args, **kwargs) -> None:
        super().resume(filename, *args, **kwargs)
        states = getattr(self, '_loaded_meta', {}).get('rng_states')
        if not states:
            self.logger.warning(f'{filename} holds no RNG states; the run '
                                'continues with freshly seeded generators')
            return
        rank = dist.get_rank() if dist.is_initialized() else 0
        set_rng_states(states[min(rank, len(states) - 1)])
