"""Write and read fitted SMPL parameters in MMHuman3D's HumanData layout.

The ``.npz`` holds what MMHuman3D's ``HumanData.dump`` writes for SMPL
results (its ``demo/estimate_smpl.py`` output): a 0-d object array
``smpl``, a dict of ``global_orient`` (N, 3), ``body_pose`` (N, 23, 3),
``betas`` (N, 10) and ``transl`` (N, 3), plus ``__data_len__``,
``__key_strict__`` and ``__keypoints_compressed__`` so ``HumanData.load``
accepts the file. ``mpve_fit`` (N,) and ``person_id`` (N,) ride along
(non-strict keys). Shape shorthand: N people.

``transl`` is a camera translation: with it, ``SMPL(betas, body_pose,
global_orient, transl)`` puts the body where it stands in the full
image's camera frame (x right, y down, z forward, metres; the focal length
is in the predictions file). :func:`collect_smpl_params` adds a sample's
``pred_cam_t_full`` (``inference_mesh``, ``MeshInferencer``) to the fit's
own-frame ``pred_smpl_transl``; samples without it (``tools/test.py``
crops) keep the fit's pelvis-centred offset.
"""
import os
from pathlib import Path
from typing import Dict, Mapping, Sequence, Union

import numpy as np

from pointhmr_mm.utils.safe_pickle import load_npz

SMPL_KEYS = ('global_orient', 'body_pose', 'betas', 'transl')
SMPL_SHAPES = dict(global_orient=(3, ), body_pose=(23, 3), transl=(3, ))
# Shapes of an empty file (a frame without people); betas as SMPL's 10.
EMPTY_SHAPES = dict(global_orient=(0, 3), body_pose=(0, 23, 3),
                    betas=(0, 10), transl=(0, 3), mpve_fit=(0, ))
FIELD_PREFIX = 'pred_smpl_'


def _field(sample, name: str, index: int) -> np.ndarray:
    key = FIELD_PREFIX + name
    if isinstance(sample, Mapping):
        value = sample.get(key)
    else:
        value = getattr(sample, key, None)
    if value is None:
        raise KeyError(f'sample {index} has no {key}; run the model with '
                       'test_cfg.fit_smpl=True (or inference_mesh on such a '
                       'model)')
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def _cam_t_full(sample) -> np.ndarray:
    """(3,) the sample's full-image translation, zeros without one."""
    value = sample.get('pred_cam_t_full') if isinstance(sample, Mapping) \
        else getattr(sample, 'pred_cam_t_full', None)
    if value is None:
        return np.zeros(3, np.float32)
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32).reshape(3)


def collect_smpl_params(samples: Sequence) -> Dict[str, np.ndarray]:
    """Stack the ``pred_smpl_*`` fields of data samples.

    Args:
        samples: Data samples (or dicts) from a model run with
            ``test_cfg.fit_smpl=True``.

    Returns:
        dict: ``global_orient`` (N, 3), ``body_pose`` (N, 23, 3), ``betas``
        (N, B), ``transl`` (N, 3) (plus ``pred_cam_t_full`` where the
        sample has one), ``mpve_fit`` (N,) metres, float32.
    """
    out = {}
    for name in SMPL_KEYS + ('mpve_fit', ):
        values = [_field(s, name, i) for i, s in enumerate(samples)]
        if name == 'transl':
            values = [v + _cam_t_full(s) for v, s in zip(values, samples)]
        for i, value in enumerate(values):
            want = SMPL_SHAPES.get(name)
            if want is not None and value.shape != want:
                raise ValueError(f'sample {i}: {FIELD_PREFIX}{name} has '
                                 f'shape {value.shape}, expected {want}')
        out[name] = np.stack(values) if values else np.zeros(
            EMPTY_SHAPES[name], np.float32)
    return out


def save_smpl_params(path: Union[str, Path], samples: Sequence) -> dict:
    """Write the fitted SMPL parameters of ``samples`` (one per person).

    Args:
        path: Output ``.npz`` file; replaced atomically if it exists.
        samples: Data samples with ``pred_smpl_*`` fields, see
            :func:`collect_smpl_params`.

    Returns:
        dict: JSON-able lists of the same values, ``global_orient``,
        ``body_pose``, ``betas``, ``transl`` and ``mpve_fit`` (metres),
        each indexed by person.
    """
    path = Path(path)
    if path.suffix != '.npz':
        raise ValueError(f'{path}: SMPL parameters are written as .npz')
    params = collect_smpl_params(samples)
    num = len(params['mpve_fit'])
    smpl = {k: params[k] for k in SMPL_KEYS}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + '.tmp.npz')
    try:
        np.savez_compressed(
            tmp, smpl=np.array(smpl, dtype=object),
            mpve_fit=params['mpve_fit'],
            person_id=np.arange(num, dtype=np.int64),
            __data_len__=np.array(num), __key_strict__=np.array(False),
            __keypoints_compressed__=np.array(False))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return {k: v.tolist() for k, v in params.items()}


def load_smpl_params(path: Union[str, Path]) -> Dict[str, np.ndarray]:
    """Read a file of :func:`save_smpl_params` (or MMHuman3D's ``smpl``).

    The ``smpl`` member is a pickled object array, so it is read through
    the project's allow-listed unpickler, never ``np.load(allow_pickle=
    True)``.

    Returns:
        dict: ``global_orient`` (N, 3), ``body_pose`` (N, 23, 3), ``betas``
        (N, B), ``transl`` (N, 3) when present, and ``mpve_fit`` (N,) when
        present.
    """
    data = load_npz(path)
    if 'smpl' not in data:
        raise KeyError(f'{path}: no "smpl" member (has {sorted(data)})')
    smpl = data['smpl']
    smpl = smpl.item() if isinstance(smpl, np.ndarray) else smpl
    if not isinstance(smpl, dict):
        raise ValueError(f'{path}: "smpl" holds a {type(smpl).__name__}, '
                         'not a dict')
    missing = [k for k in ('global_orient', 'body_pose', 'betas')
               if k not in smpl]
    if missing:
        raise KeyError(f'{path}: "smpl" lacks {missing}')
    out = {k: np.asarray(v) for k, v in smpl.items() if k in SMPL_KEYS}
    if 'mpve_fit' in data:
        out['mpve_fit'] = np.asarray(data['mpve_fit'])
    return out
