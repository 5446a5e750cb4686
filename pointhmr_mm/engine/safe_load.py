"""Let ``torch.load(weights_only=True)`` read mmengine checkpoints.

Since torch 2.6 ``torch.load`` only unpickles allow-listed globals, and
mmengine 0.10.7's checkpoints hold a ``HistoryBuffer`` and numpy arrays and
scalars (message hub, RNG states). Exactly those are added to torch's
allow-list; safe loading stays on for everything else.
"""
import copyreg

import numpy as np
import torch
from mmengine.logging import HistoryBuffer


def _numpy_globals() -> list:
    names = []
    reconstruct = np.ndarray.__reduce__(np.zeros(0))[0]
    scalar = np.float64(0).__reduce__()[0]
    names += [reconstruct, scalar, np.ndarray, np.dtype]
    for dtype in (np.bool_, np.uint8, np.int8, np.int32, np.int64,
                  np.uint32, np.uint64, np.float16, np.float32, np.float64):
        names.append(type(np.dtype(dtype)))
    return names


CHECKPOINT_SAFE_GLOBALS = [HistoryBuffer] + _numpy_globals()


def _reduce_history_buffer(buffer: HistoryBuffer):
    """Pickle a HistoryBuffer as a constructor call with plain lists.

    By default its state also holds the statistics methods, which pickle as
    ``getattr(HistoryBuffer, 'min')``; allowing ``getattr`` would widen the
    safe-loading surface, and the methods are class-level anyway.
    """
    return HistoryBuffer, (buffer._log_history.tolist(),
                           buffer._count_history.tolist(), buffer.max_length)


def allow_mmengine_checkpoints() -> None:
    """Add what mmengine checkpoints contain to torch's safe globals, and
    save HistoryBuffers in a form that needs nothing else."""
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(CHECKPOINT_SAFE_GLOBALS)
