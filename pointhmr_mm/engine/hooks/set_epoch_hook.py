"""Tell an epoch-aware training set (``MixedMeshDataset``) which epoch
starts, so a mixture redraws its subset of each dataset every epoch."""
from mmengine.hooks import Hook

from pointhmr_mm.registry import HOOKS


def _unwrap(dataset):
    """The dataset under mmengine's wrappers (``dataset`` attribute)."""
    while not hasattr(dataset, 'set_epoch') and hasattr(dataset, 'dataset'):
        dataset = dataset.dataset
    return dataset


@HOOKS.register_module()
class DatasetSetEpochHook(Hook):
    """Call ``train_dataloader.dataset.set_epoch(epoch)`` before each
    training epoch (a no-op for datasets without ``set_epoch``).

    Dataloader workers hold their own copy of the dataset. Workers made
    anew each epoch copy the updated one; persistent workers never would,
    unless the indices carry the epoch to them: ``PointHMRRunner`` wraps a
    training set with a ``DefaultSampler`` in ``SeededSampleDataset``
    (``follows_sampler_epoch``), which does. Otherwise this hook refuses
    ``persistent_workers=True`` with workers rather than let every epoch
    silently reuse epoch 0's subset.
    """
    priority = 'NORMAL'

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        dataset = _unwrap(loader.dataset)
        if getattr(loader.dataset, 'follows_sampler_epoch', False):
            return  # the workers' copies follow the sampler's epoch
        if (hasattr(dataset, 'set_epoch') and loader.num_workers > 0
                and loader.persistent_workers):
            raise ValueError(
                f'DatasetSetEpochHook: {type(dataset).__name__} redraws its '
                'samples each epoch, but train_dataloader has '
                f'persistent_workers=True with num_workers='
                f'{loader.num_workers}, so the workers would never see it; '
                'set train_dataloader.persistent_workers=False')

    def before_train_epoch(self, runner) -> None:
        dataset = _unwrap(runner.train_dataloader.dataset)
        if hasattr(dataset, 'set_epoch'):
            dataset.set_epoch(runner.epoch)
