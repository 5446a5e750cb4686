"""Several datasets mixed with fixed ratios (METRO's / MMHuman3D's mix)."""
from typing import List, Optional, Sequence

import numpy as np
from torch.utils.data import Dataset

from pointhmr_mm.registry import DATASETS

RATIO_TOLERANCE = 1e-6


@DATASETS.register_module()
class MixedMeshDataset(Dataset):
    """Serve ``partition[i]`` of every epoch from ``datasets[i]``.

    Index ranges are assigned to datasets in proportion to the partition,
    and within each range samples are drawn from that dataset by a seeded
    permutation, so an epoch's composition follows the ratios exactly and
    is the same in every process.

    Args:
        datasets: Dataset configs (DATASETS) or built datasets.
        partition: Ratios, one per dataset, summing to 1.
        num_samples: Epoch length; default the sum of the lengths.
        seed: Seed of the within-dataset sampling.
    """

    def __init__(self, datasets: Sequence, partition: Sequence[float],
                 num_samples: Optional[int] = None, seed: int = 0):
        if len(datasets) != len(partition):
            raise ValueError(f'{len(datasets)} datasets but '
                             f'{len(partition)} partition ratios')
        if abs(sum(partition) - 1) > RATIO_TOLERANCE or min(partition) < 0:
            raise ValueError(f'partition must be non-negative and sum to 1, '
                             f'got {list(partition)}')
        self.datasets: List = [
            DATASETS.build(d) if isinstance(d, dict) else d for d in datasets
        ]
        self.partition = list(partition)
        self.num_samples = num_samples or sum(len(d) for d in self.datasets)
        bounds = np.round(np.cumsum([0.] + self.partition) *
                          self.num_samples).astype(int)
        rng = np.random.default_rng(seed)
        self._which, self._inner = [], []
        for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
            count = hi - lo
            if count and not len(self.datasets[i]):
                raise ValueError(f'dataset {i} is empty but has ratio '
                                 f'{self.partition[i]}')
            reps = -(-count // max(1, len(self.datasets[i])))
            order = np.concatenate([
                rng.permutation(len(self.datasets[i])) for _ in range(reps)
            ])[:count] if count else np.zeros(0, int)
            self._which += [i] * count
            self._inner += order.tolist()
        self.metainfo = getattr(self.datasets[0], 'metainfo', {})

    def __len__(self) -> int:
        return self.num_samples

    def dataset_of(self, idx: int) -> int:
        return self._which[idx]

    def __getitem__(self, idx: int):
        return self.datasets[self._which[idx]][self._inner[idx]]
