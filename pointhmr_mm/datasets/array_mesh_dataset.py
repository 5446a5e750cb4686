"""Mesh datasets whose labels are held as numpy columns, one row a sample.

Large label sets (BEDLAM: about a million crops) would cost hundreds of
bytes of Python objects per sample as mmengine's list of dicts; as columns
they cost their raw bytes, DataLoader workers forked from the main process
share them copy-on-write, and a pickled dataset (a spawned worker) carries
no labels at all: the receiving process reads the label files again on its
first sample.
"""
from typing import Dict, Optional

import numpy as np

from .base_mesh_dataset import BaseMeshDataset

# Columns without 2D or 3D joints give zero-confidence LSP-14 rows.
NO_KEYPOINTS_2D = np.zeros((14, 3), np.float32)
NO_KEYPOINTS_3D = np.zeros((14, 4), np.float32)


def column_sample(columns: Dict[str, np.ndarray], idx: int) -> dict:
    """The data_info fields of row ``idx`` that every column-backed reader
    stores under the same names: ``center`` (2,) px, ``size`` px, ``pose``
    (72,), ``betas`` (10,), and ``keypoints_2d`` (14, 3) / ``keypoints_3d``
    (14, 4) where the columns have them (zero confidence otherwise). Copies,
    so the pipeline never writes into the columns."""
    def row(name, missing):
        return columns[name][idx].copy() if name in columns else \
            missing.copy()

    return dict(bbox_center=columns['center'][idx].copy(),
                bbox_size=float(columns['size'][idx]),
                keypoints_2d=row('keypoints_2d', NO_KEYPOINTS_2D),
                keypoints_3d=row('keypoints_3d', NO_KEYPOINTS_3D),
                smpl_pose=columns['pose'][idx].copy(),
                smpl_betas=columns['betas'][idx].copy())


class ArrayMeshDataset(BaseMeshDataset):
    """Base of the datasets that parse their files into numpy columns.

    A subclass implements :meth:`load_columns` (read and check every label
    file; return equal-length arrays) and :meth:`sample_labels` (one row as
    the data_info dict of ``BaseMeshDataset``'s module docstring, with
    copies, never views, of the columns).

    Args:
        **kwargs: :class:`BaseMeshDataset` arguments. ``indices`` and
            ``serialize_data`` are not supported: the columns are already
            compact.
    """

    def __init__(self, *args, **kwargs):
        for key in ('indices', 'serialize_data'):
            if kwargs.pop(key, None):
                raise ValueError(f'{type(self).__name__} does not take '
                                 f"'{key}' (its labels are numpy columns)")
        self._columns: Optional[Dict[str, np.ndarray]] = None
        self._length = 0
        super().__init__(*args, serialize_data=False, **kwargs)

    def load_columns(self) -> Dict[str, np.ndarray]:
        """Read the label files: name -> (N, ...) array."""
        raise NotImplementedError

    def sample_labels(self, idx: int) -> dict:
        """The labels of row ``idx`` (no image)."""
        raise NotImplementedError

    @property
    def columns(self) -> Dict[str, np.ndarray]:
        """The label columns, read again in a process that received the
        dataset pickled."""
        if self._columns is None:
            self._set_columns(self.load_columns())
        return self._columns

    def _set_columns(self, columns: Dict[str, np.ndarray]) -> None:
        lengths = {key: len(value) for key, value in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f'{type(self).__name__}: label columns differ '
                             f'in length: {lengths}')
        if self._fully_initialized and lengths and \
                next(iter(lengths.values())) != self._length:
            raise ValueError(f'{self.source}: the label files changed since '
                             f'the dataset was built ({self._length} '
                             'samples then)')
        self._columns = columns
        self._length = next(iter(lengths.values()), 0)

    def full_init(self) -> None:
        """Read every label once (mmengine's lazy_init calls it later)."""
        if self._fully_initialized:
            return
        self._set_columns(self.load_columns())
        self._fully_initialized = True

    def __len__(self) -> int:
        self.full_init()
        return self._length

    def get_data_info(self, idx: int) -> dict:
        """Row ``idx``'s labels plus ``dataset_name``, ``eval_protocol``
        and ``sample_idx``."""
        self.full_init()
        if not -self._length <= idx < self._length:
            raise IndexError(f'{self.source}: sample {idx} out of range '
                             f'({self._length} samples)')
        idx = int(idx) % self._length
        info = self.sample_labels(idx)
        info.update(dataset_name=self.dataset_name,
                    eval_protocol=self.eval_protocol, sample_idx=idx)
        return info

    def _sample_file(self, idx: int) -> str:
        try:
            return str(self.sample_labels(idx).get('img_path', self.source))
        except Exception:  # the label row itself is unreadable
            return f'{self.source}, label unreadable'

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state['_columns'] = None  # re-read where it is unpickled
        return state
