"""EpochSeededSampler + SeededSampleDataset: augmentation seeded from (seed,
epoch, sample) in whichever worker, and persistent workers that follow the
sampler's epoch."""
import pickle
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pointhmr_mm.datasets import MixedMeshDataset
from pointhmr_mm.datasets.seeded_sampling import (EpochSeededSampler,
                                                  SampleIndex,
                                                  SeededSampleDataset,
                                                  sample_rng)
from pointhmr_mm.engine import DatasetSetEpochHook


class Draws:
    """A dataset whose items are random draws (an augmentation)."""

    def __len__(self):
        return 6

    def __getitem__(self, idx):
        return (idx, random.random(), float(np.random.rand()),
                float(torch.rand(1)))


def test_sample_index_is_an_int_that_pickles():
    index = SampleIndex(4, seed=7, epoch=2)
    assert index == 4 and [10, 11, 12, 13, 14][index] == 14
    again = pickle.loads(pickle.dumps(index))
    assert (int(again), again.seed, again.epoch) == (4, 7, 2)


def test_sample_rng_repeats_per_sample_and_restores_the_streams():
    dataset = Draws()
    before = torch.get_rng_state()
    with sample_rng(SampleIndex(3, 7, 1)):
        first = dataset[3]
    assert torch.equal(torch.get_rng_state(), before)
    with sample_rng(SampleIndex(3, 7, 1)):
        assert dataset[3] == first
    with sample_rng(SampleIndex(3, 7, 2)):
        assert dataset[3] != first  # another epoch, another draw
    with sample_rng(3):  # a plain index changes nothing
        dataset[3]
    assert not torch.equal(torch.get_rng_state(), before)


def served_items(loader, epochs):
    out = []
    for epoch in epochs:
        loader.sampler.set_epoch(epoch)
        out.append([item for batch in loader for item in batch])
    return out


@pytest.mark.slow  # DataLoader worker processes
def test_fresh_and_persistent_workers_draw_the_same():
    def loader(persistent):
        dataset = SeededSampleDataset(Draws())
        return DataLoader(dataset, batch_size=2, num_workers=1,
                          persistent_workers=persistent,
                          sampler=EpochSeededSampler(dataset, seed=5),
                          collate_fn=lambda batch: batch)

    persistent = served_items(loader(True), [0, 1, 2])
    resumed = served_items(loader(False), [1, 2])  # a new process at 1
    assert persistent[1:] == resumed
    assert persistent[0] != persistent[1]


def mixture():
    return MixedMeshDataset([list(range(10)), list(range(100, 104))],
                            partition=[0.75, 0.25], num_samples=4, seed=1)


@pytest.mark.slow  # DataLoader worker processes
def test_persistent_workers_follow_the_epoch_of_a_mixture():
    dataset = SeededSampleDataset(mixture())
    loader = DataLoader(dataset, batch_size=4, num_workers=1,
                        persistent_workers=True,
                        sampler=EpochSeededSampler(dataset, shuffle=False,
                                                   seed=0),
                        collate_fn=lambda batch: batch)
    DatasetSetEpochHook().before_train(  # no longer refused
        SimpleNamespace(train_dataloader=loader, epoch=0))
    expected = mixture()
    for epoch, items in zip(range(3), served_items(loader, range(3))):
        expected.set_epoch(epoch)
        assert items == [expected[i] for i in range(4)]
