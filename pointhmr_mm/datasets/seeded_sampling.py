"""Sample augmentation that depends only on (run seed, epoch, sample),
not on which DataLoader worker drew it or how long that worker has lived.

Why: with ``persistent_workers=True`` a worker's random generators run on
from epoch to epoch, and a resumed run starts fresh workers, so its
augmentation differs from the uninterrupted run's (mmengine's
``worker_init_fn`` seeds a worker once, from the worker index); saving the
workers' generator states would need a message from every worker at every
checkpoint. The copy of the dataset inside a persistent worker never sees
``set_epoch`` calls made in the main process either.

Design: the sampler runs in the main process and knows the epoch
(``DistSamplerSeedHook`` calls its ``set_epoch``). :class:`EpochSeededSampler`
draws exactly :class:`~mmengine.dataset.DefaultSampler`'s indices but
yields each as a :class:`SampleIndex`, an ``int`` that also carries the
run seed and the epoch. The index travels to the worker unchanged (the
DataLoader pickles the batches of indices) and reaches
:class:`SeededSampleDataset`, the outermost dataset, which

* runs the sample inside :func:`sample_rng`, seeding Python's, numpy's and
  torch's global generators from ``(seed, epoch, index)`` and restoring
  them afterwards (so with ``num_workers=0`` the main process's streams are
  untouched), whatever datasets and wrappers lie beneath (mmengine's
  ``ConcatDataset`` turns indices back into plain ints);
* calls the inner dataset's ``set_epoch`` (``MixedMeshDataset``) when the
  index's epoch is new to this copy of the dataset, which is how a
  persistent worker learns the epoch.

``PointHMRRunner`` builds every training loader with a ``DefaultSampler``
this way. Plain ``int`` indices change nothing.
"""
import contextlib
import random
from typing import Iterator

import numpy as np
import torch
from mmengine.dataset import DefaultSampler
from torch.utils.data import Dataset

from pointhmr_mm.registry import DATA_SAMPLERS


class SampleIndex(int):
    """A dataset index that carries the run seed and the epoch.

    Args (of ``SampleIndex(index, seed, epoch)``):
        index: The dataset index (what the ``int`` is).
        seed: The run's sampler seed.
        epoch: The epoch it is drawn in.
    """

    def __new__(cls, index: int, seed: int, epoch: int):
        obj = super().__new__(cls, index)
        obj.seed, obj.epoch = int(seed), int(epoch)
        return obj

    def __reduce__(self):  # pickled to the DataLoader workers
        return SampleIndex, (int(self), self.seed, self.epoch)

    def __repr__(self) -> str:
        return f'SampleIndex({int(self)}, seed={self.seed}, ' \
               f'epoch={self.epoch})'


@contextlib.contextmanager
def sample_rng(index):
    """Seed the global generators for one sample of a :class:`SampleIndex`
    (no-op for a plain int), restoring them on exit."""
    if not isinstance(index, SampleIndex):
        yield
        return
    states = (random.getstate(), np.random.get_state(),
              torch.get_rng_state())
    # SeedSequence mixes the three numbers into independent streams
    words = np.random.SeedSequence(
        [index.seed % 2**32, index.epoch, int(index)]).generate_state(2)
    random.seed(int(words[0]))
    np.random.seed(int(words[0]))
    torch.manual_seed(int(words[0]) << 32 | int(words[1]))
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


@DATA_SAMPLERS.register_module()
class EpochSeededSampler(DefaultSampler):
    """``DefaultSampler`` (same arguments, same order) whose indices are
    :class:`SampleIndex` objects carrying ``seed`` and ``epoch``, so the
    datasets of this project augment each sample the same way whichever
    worker serves it (see the module docstring), once the dataset is
    wrapped in :class:`SeededSampleDataset`."""

    def __iter__(self) -> Iterator[int]:
        for index in super().__iter__():
            yield SampleIndex(index, self.seed, self.epoch)


class SeededSampleDataset(Dataset):
    """Serve ``dataset[i]`` under :func:`sample_rng` and keep an epoch-aware
    dataset on the sampler's epoch (see the module docstring).

    Attributes other than ``__getitem__``/``__len__`` are the wrapped
    dataset's (``metainfo``, ``set_epoch``, ...); ``dataset`` is the wrapped
    dataset itself, as for mmengine's dataset wrappers.

    Args:
        dataset: The training set (any map-style dataset).
    """
    # DatasetSetEpochHook: this wrapper carries the epoch into the workers
    follows_sampler_epoch = True

    def __init__(self, dataset) -> None:
        self.dataset = dataset
        self._epoch = None

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str):
        if name == 'dataset':  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, idx):
        epoch = getattr(idx, 'epoch', None)
        if epoch is not None and epoch != self._epoch:
            if hasattr(self.dataset, 'set_epoch'):
                self.dataset.set_epoch(epoch)
            self._epoch = epoch
        with sample_rng(idx):
            return self.dataset[int(idx)]
