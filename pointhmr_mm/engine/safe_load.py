"""Let ``torch.load(weights_only=True)`` read mmengine checkpoints.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True`` and only
unpickles allow-listed globals. A checkpoint that mmengine 0.10.7's Runner
writes holds, besides tensors and plain containers (found by saving one and
listing ``torch.serialization.get_unsafe_globals_in_checkpoint``):

* ``HistoryBuffer`` objects in the message hub;
* numpy arrays, dtypes and scalars (buffers, numpy's RNG state);
* ``getattr(HistoryBuffer, 'mean')``-style references to the buffer's
  statistics methods.

Exactly these are allowed. ``getattr`` is not allowed as such: the name
``builtins.getattr`` is bound to :func:`history_buffer_statistic`, which
only hands out HistoryBuffer's registered statistics methods, so safe
loading stays on for everything else.
"""
import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

# How pickle names ``getattr`` (protocol 2 writes ``__builtin__``, which
# torch's unpickler maps to ``builtins``).
GETATTR_NAME = 'builtins.getattr'
# HistoryBuffer's built-in statistics, which its instances pickle as
# getattr(HistoryBuffer, name) (the class registers them on first use)
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')
NUMPY_DTYPES = (np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.uint32,
                np.int32, np.uint64, np.int64, np.float16, np.float32,
                np.float64)


def history_buffer_statistic(owner, name: str):
    """Stand-in for ``getattr`` while unpickling: only HistoryBuffer's
    built-in statistics methods (``min``, ``max``, ``current``, ``mean``).

    Args:
        owner: The object pickle asks an attribute of.
        name: The attribute name.

    Returns:
        The statistics method ``HistoryBuffer.<name>``.

    Raises:
        pickle.UnpicklingError: For any other object or name.
    """
    if owner is not HistoryBuffer or name not in HISTORY_BUFFER_STATISTICS:
        raise pickle.UnpicklingError(
            f'checkpoint asks for getattr({owner!r}, {name!r}); safe loading'
            ' only allows the statistics methods of mmengine\'s '
            f'HistoryBuffer {HISTORY_BUFFER_STATISTICS}')
    return getattr(owner, name)


def _numpy_globals() -> list:
    """numpy's array/scalar reconstructors, ``ndarray``, ``dtype`` and the
    dtype classes numpy 2 pickles (``numpy.dtypes.Float64DType``, ...)."""
    reconstruct = np.ndarray.__reduce__(np.zeros(0))[0]
    scalar = np.float64(0).__reduce__()[0]
    dtype_classes = [type(np.dtype(dtype)) for dtype in NUMPY_DTYPES]
    return [reconstruct, scalar, np.ndarray, np.dtype] + dtype_classes


def checkpoint_safe_globals() -> list:
    """Everything :func:`allow_mmengine_checkpoints` adds to torch's list.

    Returns:
        Classes and functions, and one ``(function, name)`` pair that binds
        ``builtins.getattr`` to :func:`history_buffer_statistic`.
    """
    return [HistoryBuffer, (history_buffer_statistic, GETATTR_NAME)
            ] + _numpy_globals()


def allow_mmengine_checkpoints() -> None:
    """Add what mmengine checkpoints contain to torch's safe globals.

    Idempotent; a no-op on torch versions without safe globals (< 2.4),
    which do not load with ``weights_only=True`` by default anyway.
    """
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(checkpoint_safe_globals())
