"""A tiny PointHMR config on a few generated synthetic images, with the
tiny checkpoint of tests/conftest.py: what the tools run on in tests
(its constants and config: ``toolbox.tiny_run``)."""
import pytest
from mmengine.config import Config

from toolbox.tiny_run import IMAGE_SIZE, NUM_IMAGES, tiny_run_config


@pytest.fixture(scope='session')
def tiny_run(tiny_checkpoint, body_model_dir, tmp_path_factory):
    """(config file, checkpoint, data folder): a full runnable config of
    the tiny model on ``NUM_IMAGES`` rendered images of the embedded body."""
    from pointhmr_mm.synthetic import write_split
    tiny_cfg, ckpt = tiny_checkpoint
    out = tmp_path_factory.mktemp('tiny_run')
    data = out / 'synthetic'
    write_split(data, 'val', NUM_IMAGES, body_model_dir,
                image_size=IMAGE_SIZE, seed=1)
    cfg = tiny_run_config(Config.fromfile(str(tiny_cfg)).model, data)
    path = out / 'tiny_run.py'
    cfg.dump(str(path))
    return path, ckpt, data
