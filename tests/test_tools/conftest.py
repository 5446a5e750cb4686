"""A tiny PointHMR config on a few generated synthetic images, with the
tiny checkpoint of tests/conftest.py: what the tools run on in tests."""
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).parents[2]
CROP = 64  # the tiny model's input (tests/model_helpers.TINY_IMAGE)
NUM_IMAGES = 6
BATCH = 3  # > 1: per-sample outputs are views of their batch


def _pipeline(train: bool) -> list:
    aug = dict(type='MeshRandomAugParams', rot_std=10., scale_std=0.1) \
        if train else dict(type='MeshRandomAugParams', test_mode=True)
    return [dict(type='LoadMeshImage'), aug,
            dict(type='MeshAffineCrop', crop_size=CROP),
            dict(type='PackMeshInputs')]


@pytest.fixture(scope='session')
def tiny_run(tiny_checkpoint, body_model_dir, tmp_path_factory):
    """(config file, checkpoint, data folder): a full runnable config of
    the tiny model on ``NUM_IMAGES`` rendered images of the embedded body."""
    from pointhmr_mm.synthetic import write_split
    tiny_cfg, ckpt = tiny_checkpoint
    out = tmp_path_factory.mktemp('tiny_run')
    data = out / 'synthetic'
    write_split(data, 'val', NUM_IMAGES, body_model_dir, image_size=96,
                seed=1)

    def loader(train: bool) -> dict:
        return dict(
            batch_size=BATCH, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=train),
            dataset=dict(type='HumanDataDataset',
                         ann_file=str(data / 'val.npz'),
                         data_prefix=dict(img=str(data)),
                         dataset_name='synthetic', eval_protocol='3dpw',
                         test_mode=not train, pipeline=_pipeline(train)))

    cfg = Config.fromfile(str(ROOT / 'configs/_base_/default_runtime.py'))
    cfg.merge_from_dict(dict(
        model=Config.fromfile(str(tiny_cfg)).model,
        train_dataloader=loader(True), val_dataloader=loader(False),
        test_dataloader=loader(False),
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
    path = out / 'tiny_run.py'
    cfg.dump(str(path))
    return path, ckpt, data
