"""The checkpoint files of a work dir after a crash: which one is the
newest complete one, which temporary files a killed save left, and what a
checkpoint says about itself.

A checkpoint is written to ``<name>.tmp`` and renamed (see
:mod:`pointhmr_mm.utils.atomic_io`), so every ``*.pth`` is complete; only
the ``last_checkpoint`` pointer can lag behind the files (a kill between
the rename and the pointer's write) or be missing (a kill before the first
pointer was written).
"""
import os
import os.path as osp
import pickle
import re
from typing import Optional

import torch

from pointhmr_mm.utils.atomic_io import TMP_SUFFIX
from .safe_load import allow_mmengine_checkpoints

# the periodic checkpoints of mmengine's CheckpointHook (its filename_tmpl
# defaults); best_* files are not resume points
STEP_CHECKPOINT = re.compile(r'^(epoch|iter)_(\d+)\.pth$')
PARTIAL_CHECKPOINT = re.compile(r'^.+\.pth' + re.escape(TMP_SUFFIX) + '$')


def step_checkpoints(work_dir: str) -> dict:
    """``{path: (kind, step)}`` of the ``epoch_N.pth`` / ``iter_N.pth``
    files directly in ``work_dir`` (none if it does not exist)."""
    if not osp.isdir(work_dir):
        return {}
    found = {}
    for name in os.listdir(work_dir):
        match = STEP_CHECKPOINT.match(name)
        path = osp.join(work_dir, name)
        if match and osp.isfile(path):
            found[path] = (match.group(1), int(match.group(2)))
    return found


def newest_checkpoint(work_dir: str, pointer: Optional[str],
                      pointer_file: Optional[str]) -> Optional[str]:
    """The checkpoint to resume from: the pointer's, unless a later step of
    the same kind was completed after the pointer was written.

    Args:
        work_dir: The folder holding the checkpoints.
        pointer: The (existing) checkpoint ``last_checkpoint`` names, or
            None when there is no usable pointer.
        pointer_file: The ``last_checkpoint`` file (its modification time
            tells which checkpoints came after it), or None.

    Returns:
        A path, or None when there is neither a pointer nor a checkpoint.
    """
    found = step_checkpoints(work_dir)
    if pointer is None:
        if not found:
            return None
        # without a pointer the highest step wins; epoch_* over iter_*
        # only breaks ties of mixed folders
        return max(found, key=lambda p: (found[p][1], found[p][0]))
    kind_step = found.get(osp.join(work_dir, osp.basename(pointer)))
    if kind_step is None or pointer_file is None:
        return pointer
    written = os.stat(pointer_file).st_mtime_ns
    # later checkpoints older than the pointer belong to a run that was
    # resumed from an earlier one and are not this run's latest state
    later = [p for p, (kind, step) in found.items()
             if kind == kind_step[0] and step > kind_step[1]
             and os.stat(p).st_mtime_ns >= written]
    if not later:
        return pointer
    return max(later, key=lambda p: found[p][1])


def partial_checkpoints(folder: str) -> list:
    """``*.pth.tmp`` files in ``folder``: saves that a kill interrupted
    (a completed save renames its temporary file)."""
    if not osp.isdir(folder):
        return []
    return sorted(osp.join(folder, name) for name in os.listdir(folder)
                  if PARTIAL_CHECKPOINT.match(name)
                  and osp.isfile(osp.join(folder, name)))


def checkpoint_summary(path: str) -> dict:
    """``meta`` and the message hub's ``runtime_info`` of a checkpoint,
    read without loading its tensors into memory (``mmap``).

    Returns:
        dict with ``meta`` and ``runtime_info`` (empty dicts if absent).
    """
    allow_mmengine_checkpoints()
    checkpoint = torch.load(path, map_location='cpu', weights_only=True,
                            mmap=True)
    hub = checkpoint.get('message_hub') or {}
    return dict(meta=checkpoint.get('meta') or {},
                runtime_info=hub.get('runtime_info') or {})


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used as asked; the tools print it
    without a traceback."""


# what Runner.resume reads besides the weights
TRAINING_STATE_KEYS = ('meta', 'message_hub')


def read_checkpoint(filename: str, map_location='cpu') -> dict:
    """mmengine's ``_load_checkpoint`` with errors that name the file.

    Raises:
        CheckpointError: The file is empty, cut short, or not a checkpoint.
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    if '://' not in filename and osp.isfile(filename) and \
            osp.getsize(filename) == 0:
        raise CheckpointError(f'checkpoint {filename} is empty (0 bytes); '
                              'its save was interrupted or the copy failed')
    try:
        checkpoint = _load_checkpoint(filename, map_location=map_location)
    except (EOFError, pickle.UnpicklingError) as err:
        raise CheckpointError(f'checkpoint {filename} cannot be read ('
                              f'{type(err).__name__}: {err}); is it cut '
                              'short or not a torch checkpoint?') from err
    except RuntimeError as err:
        if 'zip' not in str(err) and 'archive' not in str(err):
            raise
        raise CheckpointError(f'checkpoint {filename} is not a complete '
                              f'torch file ({err})') from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{filename} holds a {type(checkpoint).__name__}'
                              ', not a checkpoint dict')
    return checkpoint


def require_training_state(checkpoint: dict, filename: str) -> None:
    """Raise unless ``checkpoint`` can be resumed from.

    Raises:
        CheckpointError: ``meta`` or ``message_hub`` is missing (a
            ``tools/misc/publish_model.py`` output or bare weights); names
            ``--load-from`` / ``load_from`` instead.
    """
    missing = [key for key in TRAINING_STATE_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(
            f'--resume {filename}: the file holds weights but no training '
            f'state (no {missing}; e.g. a tools/misc/publish_model.py '
            'output), so there is nothing to resume. Start a new schedule '
            f'from its weights with --load-from {filename} (or '
            f'load_from={filename!r} in the config)')


def model_state_dict(checkpoint: dict, revise_keys) -> dict:
    """The model weights of ``checkpoint`` as the model names them.

    Args:
        checkpoint: A loaded checkpoint (``state_dict`` inside, or itself a
            state dict).
        revise_keys: ``(pattern, replacement)`` pairs applied to each key,
            as mmengine's ``_load_checkpoint_to_model`` does.
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    revised = {}
    for key, value in state_dict.items():
        if key == '_metadata':
            continue
        for pattern, replacement in revise_keys:
            key = re.sub(pattern, replacement, key)
        revised[key] = value
    return revised
