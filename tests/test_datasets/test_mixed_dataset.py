import numpy as np
import pytest
from torch.utils.data import Dataset

from pointhmr_mm.datasets import MixedMeshDataset


class Numbers(Dataset):

    def __init__(self, tag, size):
        self.tag, self.size = tag, size

    def __len__(self):
        return self.size

    def __getitem__(self, idx):
        return (self.tag, idx)


def test_composition_follows_ratios():
    mixed = MixedMeshDataset([Numbers('a', 7), Numbers('b', 50)],
                             partition=[0.3, 0.7], num_samples=100, seed=1)
    tags = [mixed[i][0] for i in range(len(mixed))]
    assert tags.count('a') == 30 and tags.count('b') == 70
    # every sample of the small set is used before any repeats
    first = [mixed[i][1] for i in range(7)]
    assert sorted(first) == list(range(7))
    again = MixedMeshDataset([Numbers('a', 7), Numbers('b', 50)],
                             partition=[0.3, 0.7], num_samples=100, seed=1)
    assert [again[i] for i in range(100)] == [mixed[i] for i in range(100)]


def test_bad_partition():
    with pytest.raises(ValueError, match='sum to 1'):
        MixedMeshDataset([Numbers('a', 3), Numbers('b', 3)], [0.5, 0.6])
    with pytest.raises(ValueError, match='partition ratios'):
        MixedMeshDataset([Numbers('a', 3)], [0.5, 0.5])
