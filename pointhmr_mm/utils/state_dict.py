"""Check that a state dict fits a model before it is loaded.

``torch.nn.Module.load_state_dict(strict=True)`` stops at the first problem
with one long message, and mmengine's ``load_state_dict`` only logs the
mismatches (so a checkpoint of another architecture is evaluated with
random weights). :func:`check_state_dict` names the source file and every
kind of mismatch in a few lines.
"""
from typing import Iterable, List, Mapping

import torch

SHOWN_PER_KIND = 5  # keys listed per kind of mismatch before a count


def _non_persistent_buffers(model: torch.nn.Module) -> set:
    """Full names of buffers registered with ``persistent=False``: they are
    never in a state dict, so their absence is no mismatch."""
    names = set()
    for prefix, module in model.named_modules():
        for name in getattr(module, '_non_persistent_buffers_set', ()):
            names.add(f'{prefix}.{name}' if prefix else name)
    return names


def _summary(keys: Iterable[str], limit: int = SHOWN_PER_KIND) -> str:
    """``'a, b, c ... (12 in all)'``: a few keys, then the count."""
    keys = list(keys)
    shown = ', '.join(keys[:limit])
    if len(keys) > limit:
        shown += f' ... ({len(keys)} in all)'
    return shown


def state_dict_mismatches(model: torch.nn.Module,
                          state_dict: Mapping[str, torch.Tensor]) -> dict:
    """Keys of ``state_dict`` that do not fit ``model``.

    Args:
        model: The module the weights are meant for.
        state_dict: Name -> tensor, as ``model.state_dict()`` (without a
            ``module.`` prefix).

    Returns:
        dict with ``missing`` (model keys absent from ``state_dict``),
        ``unexpected`` (keys the model lacks) and ``shape`` (``'key:
        checkpoint (..) vs model (..)'`` strings), each a sorted list.
    """
    expected = model.state_dict()
    ignored = _non_persistent_buffers(model)
    missing = sorted(k for k in expected
                     if k not in state_dict and k not in ignored)
    unexpected = sorted(k for k in state_dict if k not in expected)
    shape: List[str] = []
    for key in sorted(k for k in state_dict if k in expected):
        value, target = state_dict[key], expected[key]
        got = tuple(getattr(value, 'shape', ()))
        if got != tuple(target.shape):
            shape.append(f'{key}: checkpoint {got} vs model '
                         f'{tuple(target.shape)}')
    return dict(missing=missing, unexpected=unexpected, shape=shape)


def check_state_dict(model: torch.nn.Module,
                     state_dict: Mapping[str, torch.Tensor],
                     source: str) -> None:
    """Raise unless ``state_dict`` fits ``model`` key for key and shape for
    shape (the model's non-persistent buffers are not expected).

    Args:
        model: The module the weights are meant for.
        state_dict: Name -> tensor, as ``model.state_dict()``.
        source: Where the weights come from (a file path), for the message.

    Raises:
        RuntimeError: Naming ``source`` and listing a few missing,
            unexpected and shape-mismatched keys of each kind, with counts.
    """
    found = state_dict_mismatches(model, state_dict)
    if not any(found.values()):
        return
    lines = [f'{source} does not fit {type(model).__name__}:']
    labels = dict(missing='missing keys', unexpected='unexpected keys',
                  shape='shape mismatches')
    for kind, label in labels.items():
        if found[kind]:
            lines.append(f'  {len(found[kind])} {label}: '
                         f'{_summary(found[kind])}')
    raise RuntimeError('\n'.join(lines))
