"""Regions kept in fp32 under autocast (mixed-precision training)."""
import contextlib

import torch
from torch import Tensor


def full_precision(reference: Tensor) -> contextlib.AbstractContextManager:
    """Context that turns autocast off on ``reference``'s device type.

    Inside it, ops run in their inputs' dtype, so callers cast with
    ``.float()`` what must be fp32 (pixel softmaxes for the loss, body
    models, regressors of 3D coordinates, loss reductions). Outside
    autocast it changes nothing.
    """
    return torch.autocast(reference.device.type, enabled=False)


def to_float(value):
    """``value`` with every floating tensor in it (also in lists, tuples
    and dicts) cast to fp32; other values unchanged."""
    if isinstance(value, Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, dict):
        return {k: to_float(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_float(v) for v in value)
    return value
