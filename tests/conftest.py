"""Session fixtures: a small embedded (Anny) body model, its mesh hierarchy
and a tiny checkpoint. Nothing licensed and nothing downloaded."""
import pytest
import torch
from mmengine.config import Config

# Small enough to write in a moment and to keep the models tiny, large
# enough to decimate twice.
TEST_BODY_VERTICES = 600
TEST_SAMPLER_LEVELS = (300, 150)


@pytest.fixture(scope='session')
def body_model_dir(tmp_path_factory):
    """The embedded Anny body with ``TEST_BODY_VERTICES`` vertices in the
    ``data/body_models`` layout (``smpl/SMPL_*.npz``, regressors, the
    ``TEST_SAMPLER_LEVELS`` hierarchy, ...)."""
    from pointhmr_mm.models.body_models.embedded import write_embedded_body
    out = tmp_path_factory.mktemp('body_models')
    write_embedded_body(out, num_vertices=TEST_BODY_VERTICES,
                        levels=TEST_SAMPLER_LEVELS)
    return out


@pytest.fixture(scope='session')
def mesh_sampler_file(body_model_dir):
    """Its ``mesh_downsampling.npz``: TEST_BODY_VERTICES -> levels."""
    return body_model_dir / 'mesh_downsampling.npz'


@pytest.fixture(scope='session')
def tiny_checkpoint(body_model_dir, mesh_sampler_file, tmp_path_factory):
    """A config file and a checkpoint of a tiny PointHMR."""
    from toolbox.tiny_model import TINY_IMAGE, tiny_model_cfg
    from pointhmr_mm.models.utils import MeshSampler
    from pointhmr_mm.registry import MODELS
    out = tmp_path_factory.mktemp('tiny_ckpt')
    num = MeshSampler(str(mesh_sampler_file)).num_vertices[-1]
    model_cfg = tiny_model_cfg(body_model_dir, mesh_sampler_file, num)
    cfg = Config(dict(
        default_scope='pointhmr_mm', model=model_cfg,
        test_dataloader=dict(dataset=dict(pipeline=[
            dict(type='MeshAffineCrop', crop_size=TINY_IMAGE)]))))
    cfg.dump(str(out / 'tiny.py'))
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    torch.save(dict(state_dict=model.state_dict()), out / 'tiny.pth')
    return out / 'tiny.py', out / 'tiny.pth'
