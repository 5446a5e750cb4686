"""Several datasets mixed with fixed ratios, as METRO's and MMHuman3D's
training mixtures do."""
from typing import List, Optional, Sequence

import numpy as np
from torch.utils.data import Dataset

from pointhmr_mm.registry import DATASETS

RATIO_TOLERANCE = 1e-6


@DATASETS.register_module()
class MixedMeshDataset(Dataset):
    """Serve ``partition[i]`` of every epoch from ``datasets[i]``.

    The epoch's ``num_samples`` indices are split into one contiguous
    block per dataset, sized by the partition (rounded so the sizes sum to
    ``num_samples``). Within a block, samples come from a permutation of
    that dataset drawn from ``seed`` (repeated when the block is longer
    than the dataset), so every sample of a small dataset is used before
    any repeats, the composition follows the ratios exactly, and every
    process maps an index to the same sample. A plain
    ``__len__``/``__getitem__``, so mmengine's ``DefaultSampler`` shuffles
    and shards it like any dataset.

    When a block is shorter than its dataset, one epoch sees a subset;
    :meth:`set_epoch` draws a fresh subset: add
    ``custom_hooks=[dict(type='DatasetSetEpochHook')]`` to the config and
    keep the train loader's workers non-persistent.

    Args:
        datasets: Dataset configs (built through DATASETS) or datasets.
        partition: Ratios, one per dataset, non-negative, summing to 1.
        num_samples: Epoch length; default the sum of the lengths.
        seed: Seed of the within-dataset permutations.
    """

    def __init__(self, datasets: Sequence, partition: Sequence[float],
                 num_samples: Optional[int] = None, seed: int = 0):
        if not datasets:
            raise ValueError('datasets is empty')
        if len(datasets) != len(partition):
            raise ValueError(f'{len(datasets)} datasets but '
                             f'{len(partition)} partition ratios')
        if min(partition) < 0 or abs(sum(partition) - 1) > RATIO_TOLERANCE:
            raise ValueError(f'partition must be non-negative and sum to 1, '
                             f'got {list(partition)} (sum {sum(partition)})')
        self.datasets: List = [
            DATASETS.build(d) if isinstance(d, dict) else d for d in datasets
        ]
        self.partition = [float(p) for p in partition]
        total = sum(len(d) for d in self.datasets)
        self.num_samples = total if num_samples is None else int(num_samples)
        if self.num_samples <= 0:
            raise ValueError(f'num_samples must be positive, got '
                             f'{self.num_samples} (dataset lengths '
                             f'{[len(d) for d in self.datasets]})')
        bounds = np.round(np.cumsum([0.] + self.partition) *
                          self.num_samples).astype(int)
        self.block_sizes = np.diff(bounds).tolist()
        for i, size in enumerate(self.block_sizes):
            if size and not len(self.datasets[i]):
                raise ValueError(f'dataset {i} ({type(self.datasets[i])}) '
                                 f'is empty but has ratio '
                                 f'{self.partition[i]}')
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Redraw the within-dataset samples for ``epoch``."""
        rng = np.random.default_rng([self.seed, epoch])
        which, inner = [], []
        for i, size in enumerate(self.block_sizes):
            length = len(self.datasets[i])
            reps = -(-size // max(1, length))  # ceil
            order = [rng.permutation(length) for _ in range(reps)]
            which.append(np.full(size, i))
            inner.append(np.concatenate(order)[:size] if size else
                         np.zeros(0, np.int64))
        self._which = np.concatenate(which).astype(np.int64)
        self._inner = np.concatenate(inner).astype(np.int64)

    @property
    def metainfo(self) -> dict:
        """The first dataset's metainfo plus the mixture's dataset names."""
        meta = dict(getattr(self.datasets[0], 'metainfo', {}) or {})
        meta['mixed_datasets'] = [
            getattr(d, 'dataset_name', type(d).__name__)
            for d in self.datasets
        ]
        meta['partition'] = list(self.partition)
        return meta

    def __len__(self) -> int:
        return self.num_samples

    def locate(self, idx: int):
        """(dataset index, sample index in it) served at ``idx``."""
        if not -self.num_samples <= idx < self.num_samples:
            raise IndexError(f'index {idx} out of range for a mixture of '
                             f'{self.num_samples} samples')
        return int(self._which[idx]), int(self._inner[idx])

    def get_data_info(self, idx: int) -> dict:
        """Labels of the sample served at ``idx`` (no pipeline)."""
        which, inner = self.locate(idx)
        return self.datasets[which].get_data_info(inner)

    def __getitem__(self, idx: int):
        which, inner = self.locate(idx)
        return self.datasets[which][inner]
