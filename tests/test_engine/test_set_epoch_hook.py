from types import SimpleNamespace

import pytest
from torch.utils.data import DataLoader

from pointhmr_mm.datasets import MixedMeshDataset
from pointhmr_mm.engine import DatasetSetEpochHook
from pointhmr_mm.registry import HOOKS


def mixture():
    # blocks of 3 drawn from 10 and 1 from 4: each epoch sees a subset
    return MixedMeshDataset([list(range(10)), list(range(100, 104))],
                            partition=[0.75, 0.25], num_samples=4, seed=1)


def served(dataset):
    return [dataset.locate(i) for i in range(len(dataset))]


def test_sets_the_runners_epoch_on_the_training_set():
    hook = HOOKS.build(dict(type='DatasetSetEpochHook'))
    dataset, expected = mixture(), mixture()
    loader = DataLoader(dataset, batch_size=2, num_workers=0)
    runner = SimpleNamespace(train_dataloader=loader, epoch=0)
    hook.before_train(runner)
    subsets = []
    for epoch in range(4):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        expected.set_epoch(epoch)
        assert served(dataset) == served(expected)
        subsets.append(tuple(served(dataset)))
    assert len(set(subsets)) > 1  # the subset changes between epochs


def test_plain_datasets_are_left_alone():
    loader = DataLoader(list(range(5)), num_workers=1,
                        persistent_workers=True)
    runner = SimpleNamespace(train_dataloader=loader, epoch=2)
    hook = DatasetSetEpochHook()
    hook.before_train(runner)  # no set_epoch: nothing to refuse
    hook.before_train_epoch(runner)


def test_refuses_persistent_workers():
    loader = DataLoader(mixture(), num_workers=1, persistent_workers=True)
    with pytest.raises(ValueError, match='persistent_workers=False'):
        DatasetSetEpochHook().before_train(
            SimpleNamespace(train_dataloader=loader, epoch=0))
