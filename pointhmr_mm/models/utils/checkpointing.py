"""Batch-norm statistics under activation checkpointing.

``torch.utils.checkpoint`` (which mmpretrain's ``with_cp`` blocks and the
neck's decoders call) recomputes a block's forward during backward. A
batch norm in training mode updates its running statistics on every
forward, so without a guard each checkpointed BN counts every batch
twice: ``num_batches_tracked`` doubles and the running mean and variance
move as with momentum 0.19 instead of 0.1, so the evaluation model
differs from the one trained without checkpointing. Neither torch nor
mmpretrain prevents that, hence this guard: during a recomputation
(recognised as a forward that runs inside the autograd engine's backward)
each guarded BN's buffers are put back as they were, so the recomputed
output, which uses the batch's own statistics, is unchanged and the
running statistics equal those of training without checkpointing.
"""
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

_GUARD = '_pointhmr_recompute_guard'
_STASH = '_pointhmr_recompute_stash'


def in_backward() -> bool:
    """Whether the caller runs inside the autograd engine's backward pass,
    as checkpoint recomputation does (reentrant or not)."""
    # a private torch helper (-1 outside backward); where a build lacks
    # it, nothing is recognised and BN behaves as unguarded
    task_id = getattr(torch._C, '_current_graph_task_id', None)
    return task_id is not None and task_id() != -1


_NAMES = ('running_mean', 'running_var', 'num_batches_tracked')


def _stash_before(module: _BatchNorm, args) -> None:
    _restore_after(module, args, None)  # one left by a stopped recompute
    if module.training and module.track_running_stats and in_backward():
        # The recomputed forward updates clones; the originals come back
        # afterwards by assignment, not by an in-place copy, which would
        # change a tensor that batch norm's backward has saved.
        stash = {}
        for name in _NAMES:
            buf = getattr(module, name, None)
            if buf is not None:
                stash[name] = buf
                setattr(module, name, buf.clone())
        module.__dict__[_STASH] = stash


def _restore_after(module: _BatchNorm, args, output) -> None:
    for name, buf in module.__dict__.pop(_STASH, {}).items():
        setattr(module, name, buf)


def guard_batch_norm_recompute(model: nn.Module) -> int:
    """Install the guard on every batch norm of ``model`` that lacks it.

    Call it again after replacing batch norms (e.g. converting them to
    ``SyncBatchNorm``): the new modules lack the guard. Run the forward
    under
    ``torch.utils.checkpoint.set_checkpoint_early_stop(False)``: a
    non-reentrant recomputation that stops early (torch's default) stops
    before the hook that puts the statistics back.

    Returns:
        int: How many batch norms were newly guarded.
    """
    added = 0
    for module in model.modules():
        if isinstance(module, _BatchNorm) and not hasattr(module, _GUARD):
            module.register_forward_pre_hook(_stash_before)
            module.register_forward_hook(_restore_after)
            setattr(module, _GUARD, True)
            added += 1
    return added
