"""The tiny PointHMR run the tools are tested on: the tiny checkpoint of
``tests/conftest.py`` on ``NUM_IMAGES`` rendered images of the embedded
body. The ``tiny_run`` fixture of ``tests/test_tools/conftest.py`` writes
the images and the config."""
from pathlib import Path

from mmengine.config import Config

from toolbox import ROOT
from toolbox.tiny_model import TINY_IMAGE

CROP = TINY_IMAGE  # the crop is the tiny model's input
NUM_IMAGES = 6
BATCH = 3  # > 1: per-sample outputs are views of their batch
IMAGE_SIZE = 96  # of the rendered images, before the crop


def pipeline(train: bool) -> list:
    """Load, augment (train) or centre (test), crop to ``CROP``, pack."""
    aug = dict(type='MeshRandomAugParams', rot_std=10., scale_std=0.1) \
        if train else dict(type='MeshRandomAugParams', test_mode=True)
    return [dict(type='LoadMeshImage'), aug,
            dict(type='MeshAffineCrop', crop_size=CROP),
            dict(type='PackMeshInputs')]


def _loader(data: Path, train: bool) -> dict:
    return dict(
        batch_size=BATCH, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=train),
        dataset=dict(type='HumanDataDataset',
                     ann_file=str(data / 'val.npz'),
                     data_prefix=dict(img=str(data)),
                     dataset_name='synthetic', eval_protocol='3dpw',
                     test_mode=not train, pipeline=pipeline(train)))


def tiny_run_config(model: dict, data: Path) -> Config:
    """A full runnable config: ``model`` trained and tested for one epoch
    on the split ``data / 'val.npz'`` (train, val and test alike).

    Args:
        model: The model config (the tiny checkpoint's).
        data: A folder written by ``pointhmr_mm.synthetic.write_split``
            with a ``val`` split.
    """
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/default_runtime.py'))
    cfg.merge_from_dict(dict(
        model=model,
        train_dataloader=_loader(data, True),
        val_dataloader=_loader(data, False),
        test_dataloader=_loader(data, False),
        val_evaluator=dict(type='MeshMetric'),
        test_evaluator=dict(type='MeshMetric'),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-4)),
        train_cfg=dict(by_epoch=True, max_epochs=1, val_interval=1),
        val_cfg=dict(), test_cfg=dict(),
        default_hooks=dict(
            logger=dict(interval=1),
            checkpoint=dict(save_best=None),
            visualization=dict(type='MeshVisualizationHook',
                               max_samples=2))))
    cfg.model.test_cfg = dict(output_heatmaps=True)
    return cfg
