"""Behaviour shared by the mesh datasets: lazy images, label checks and a
bad-sample policy.

Every loader's ``get_data_info(idx)`` returns the dict the transforms
expect (see ``docs/conventions.md``): ``img_path`` (and optionally
``img_bytes``), ``bbox_center`` (2,) px, ``bbox_size`` px, ``keypoints_2d``
(14, 3) px + confidence, ``keypoints_3d`` (14, 4) metres + confidence,
``smpl_pose`` (72,), ``smpl_betas`` (10,), ``has_smpl``, ``gender``,
``dataset_name``, ``eval_protocol`` and ``sample_idx``.
"""
import logging
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from .conventions import check_gender_codes, normalise_gender

ON_ERROR = ('raise', 'skip')
# what each kind of label supervises (the head's loss names)
SUPERVISED_LOSSES = dict(
    vertices=('loss_vertices', ),
    heatmap=('loss_heatmap', 'loss_dice'),
    joints_3d=('loss_joints_3d', 'loss_mesh_joints_3d'),
    joints_2d=('loss_joints_2d', 'loss_mesh_joints_2d'))
KEYPOINT_FIELDS = dict(joints_3d='keypoints_3d', joints_2d='keypoints_2d')
# samples looked at by the generic supervision(), spread over the dataset
SUPERVISION_SAMPLES = 2000
EVAL_PROTOCOLS = ('h36m_p2', '3dpw', '3dpw_gendered', 'emdb', None)


def check_finite(array: np.ndarray, key: str, source: str) -> None:
    """Raise naming the file, the key and the first sample with NaN or inf.

    Args:
        array: (N, ...) per-sample values.
        key: Name of the array in ``source``.
        source: The file (or file and row) the array came from.
    """
    array = np.asarray(array, dtype=np.float64)
    if array.size == 0:
        return
    bad = ~np.isfinite(array.reshape(len(array), -1)).all(1)
    if bad.any():
        raise ValueError(f"{source}: key '{key}' has NaN/inf at sample "
                         f'{int(np.flatnonzero(bad)[0])} '
                         f'({int(bad.sum())} samples in all)')


def check_shape(array, expected: Sequence[Optional[int]], key: str,
                source: str) -> None:
    """Raise unless ``array`` has ``expected`` shape (None: any size)."""
    shape = np.shape(array)
    if len(shape) != len(expected) or any(
            e is not None and e != s for e, s in zip(expected, shape)):
        pretty = tuple('*' if e is None else e for e in expected)
        raise ValueError(f"{source}: key '{key}' has shape {shape}, "
                         f'expected {pretty}')


class BaseMeshDataset(BaseDataset):
    """Base of the mesh datasets.

    Labels are read when the dataset is built; images are read and decoded
    by the pipeline (``LoadMeshImage``), one sample at a time.

    Args:
        dataset_name: Name recorded in every sample's metainfo.
        eval_protocol: 'h36m_p2', '3dpw' or None (not an evaluation set).
        on_error: What a broken sample (missing image, corrupt JPEG,
            unreadable label row) does. 'raise': the error propagates with
            the file and the sample index in its message. 'skip': it is
            logged once per sample, counted in ``num_skipped`` (per
            process: each DataLoader worker counts its own) and mmengine's
            refetch serves another random sample, at most ``max_refetch``
            times in a row. Evaluation must see every sample, so 'skip' is
            refused with ``test_mode=True``.
        gender_codes: What integer gender codes mean in this dataset's
            files, e.g. ``{0: 'female', 1: 'male'}`` for SURREAL's raw
            codes. None: SPIN's, ``{0: 'male', 1: 'female', -1:
            'neutral'}`` (``docs/conventions.md``). Strings ('m', 'female',
            ...) need no codes.
        **kwargs: ``mmengine.dataset.BaseDataset`` arguments (``ann_file``,
            ``data_root``, ``data_prefix``, ``pipeline``, ``test_mode``,
            ``max_refetch``, ...).
    """

    def __init__(self, *args, dataset_name: str = 'mesh',
                 eval_protocol: Optional[str] = None,
                 on_error: str = 'raise',
                 gender_codes: Optional[dict] = None, **kwargs):
        if on_error not in ON_ERROR:
            raise ValueError(f'on_error must be one of {ON_ERROR}, got '
                             f'{on_error!r}')
        if eval_protocol not in EVAL_PROTOCOLS:
            raise ValueError(f'eval_protocol must be one of '
                             f'{EVAL_PROTOCOLS}, got {eval_protocol!r}')
        if on_error == 'skip' and kwargs.get('test_mode', False):
            raise ValueError(
                f"{dataset_name}: on_error='skip' would replace broken "
                'samples during evaluation; use on_error=\'raise\' with '
                'test_mode=True')
        if on_error == 'skip' and kwargs.get('max_refetch', 1) < 1:
            raise ValueError("on_error='skip' needs max_refetch >= 1, got "
                             f"{kwargs['max_refetch']}")
        self.gender_codes = check_gender_codes(gender_codes)
        self.dataset_name = dataset_name
        self.eval_protocol = eval_protocol
        self.on_error = on_error
        self.num_skipped = 0
        self._reported = set()
        super().__init__(*args, **kwargs)

    def full_init(self) -> None:
        """As ``BaseDataset.full_init``; a training set then warns once
        about the losses its labels cannot supervise."""
        if self._fully_initialized:
            return
        super().full_init()
        if not self.test_mode:
            self.warn_unsupervised()

    def supervision(self) -> Dict[str, bool]:
        """Which losses this dataset's labels can drive.

        Returns:
            dict with ``vertices`` and ``heatmap`` (some sample has SMPL
            parameters, ``has_smpl``: the GT mesh both come from),
            ``joints_3d`` and ``joints_2d`` (some sample has a keypoint of
            non-zero confidence). Looks at up to ``SUPERVISION_SAMPLES``
            samples spread over the dataset; subclasses that hold whole
            label arrays answer exactly.
        """
        total = len(self)
        indices = np.unique(np.linspace(
            0, total - 1, min(total, SUPERVISION_SAMPLES)).round().astype(
                int)) if total else []
        found = dict.fromkeys(SUPERVISED_LOSSES, False)
        for idx in indices:
            try:
                info = self.get_data_info(int(idx))
            except Exception:  # a broken row: reading samples reports it
                continue
            smpl = float(info.get('has_smpl', 0)) > 0
            found['vertices'] |= smpl
            found['heatmap'] |= smpl
            for key, field in KEYPOINT_FIELDS.items():
                points = info.get(field)
                found[key] |= points is not None and bool(
                    (np.asarray(points)[..., -1] > 0).any())
            if all(found.values()):
                break
        return found

    def warn_unsupervised(self) -> None:
        """Log, once, the losses :meth:`supervision` says get nothing."""
        missing = [k for k, ok in self.supervision().items() if not ok]
        if not missing:
            return
        losses = [name for k in missing for name in SUPERVISED_LOSSES[k]]
        print_log(f'{self.dataset_name} ({self.source}): no labels for '
                  f'{", ".join(missing)} (SMPL parameters give vertices '
                  'and heatmap; keypoints of non-zero confidence give '
                  f'joints), so {", ".join(losses)} get nothing from this '
                  'dataset', logger='current', level=logging.WARNING)

    @property
    def source(self) -> str:
        """The annotation file, for error messages."""
        return str(self.ann_file) if self.ann_file else self.dataset_name

    def gender(self, value, where: str) -> str:
        """``value`` as 'neutral' | 'male' | 'female' under this dataset's
        ``gender_codes``; errors name ``where`` (file, key, sample)."""
        try:
            return normalise_gender(value, self.gender_codes)
        except ValueError as err:
            raise ValueError(f'{where}: {err}') from None

    def get_data_info(self, idx: int) -> dict:
        """The sample's labels (see the module docstring), no image."""
        info = super().get_data_info(idx)
        info.update(dataset_name=self.dataset_name,
                    eval_protocol=self.eval_protocol, sample_idx=idx)
        return info

    def prepare_data(self, idx: int):
        """Labels through the pipeline; None (refetch) for a broken sample
        under ``on_error='skip'``."""
        try:
            return super().prepare_data(idx)
        except Exception as err:
            where = self._sample_file(idx)
            if self.on_error == 'raise':
                raise RuntimeError(f'{self.dataset_name}: sample {idx} '
                                   f'({where}) failed: {err}') from err
            self.num_skipped += 1
            if idx not in self._reported:
                self._reported.add(idx)
                print_log(f'{self.dataset_name}: skipping sample {idx} '
                          f'({where}): {err} [{self.num_skipped} skipped '
                          'so far in this process]', logger='current',
                          level=logging.WARNING)
            return None

    def _sample_file(self, idx: int) -> str:
        """The sample's image file, or the annotation file when the labels
        themselves cannot be read."""
        try:
            return str(super().get_data_info(idx).get('img_path',
                                                      self.source))
        except Exception:  # the label row itself is unreadable
            return f'{Path(self.source).name}, label unreadable'
