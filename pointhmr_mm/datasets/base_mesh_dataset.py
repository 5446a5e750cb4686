"""Shared behaviour of mesh datasets: lazy images, label checks and a
bad-sample policy."""
import logging
from pathlib import Path
from typing import Optional

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

ON_ERROR = ('raise', 'skip')


def check_finite(array: np.ndarray, key: str, source: str) -> None:
    """Raise naming the file, key and first sample with NaN or inf."""
    array = np.asarray(array, dtype=np.float64)
    bad = ~np.isfinite(array.reshape(len(array), -1)).all(1)
    if bad.any():
        raise ValueError(f"{source}: key '{key}' has NaN/inf at sample "
                         f'{int(np.flatnonzero(bad)[0])} '
                         f'({int(bad.sum())} samples in all)')


def check_shape(array: np.ndarray, expected: tuple, key: str,
                source: str) -> None:
    """Raise unless ``array`` matches ``expected`` (None: any size)."""
    shape = np.shape(array)
    if len(shape) != len(expected) or any(
            e is not None and e != s for e, s in zip(expected, shape)):
        raise ValueError(f"{source}: key '{key}' has shape {shape}, "
                         f'expected {expected}')


class BaseMeshDataset(BaseDataset):
    """Base for mesh datasets.

    Args:
        dataset_name: Name recorded in each sample's metainfo.
        eval_protocol: 'h36m_p2', '3dpw' or None.
        on_error: 'raise' stops at a broken sample (missing image, corrupt
            JPEG) with its file and index; 'skip' logs it once, counts it
            in ``num_skipped`` and serves another sample instead.
        **kwargs: ``mmengine.dataset.BaseDataset`` arguments.
    """

    def __init__(self, *args, dataset_name: str = 'mesh',
                 eval_protocol: Optional[str] = None,
                 on_error: str = 'raise', **kwargs):
        if on_error not in ON_ERROR:
            raise ValueError(f'on_error must be one of {ON_ERROR}, got '
                             f'"{on_error}"')
        self.dataset_name = dataset_name
        self.eval_protocol = eval_protocol
        self.on_error = on_error
        self.num_skipped = 0
        self._reported = set()
        super().__init__(*args, **kwargs)

    def _source(self) -> str:
        return Path(self.ann_file).name if self.ann_file else \
            self.dataset_name

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info.update(dataset_name=self.dataset_name,
                    eval_protocol=self.eval_protocol, sample_idx=idx)
        return info

    def prepare_data(self, idx: int):
        try:
            return super().prepare_data(idx)
        except Exception as err:
            if self.on_error == 'raise':
                raise RuntimeError(f'{self.dataset_name} ({self._source()}) '
                                   f'sample {idx}: {err}') from err
            self.num_skipped += 1
            if idx not in self._reported:
                self._reported.add(idx)
                print_log(f'skipping {self.dataset_name} sample {idx}: {err}'
                          f' ({self.num_skipped} skipped so far)',
                          logger='current', level=logging.WARNING)
            return None
