import pytest
import torch
from mmengine.config import Config

from model_helpers import TINY_IMAGE, tiny_model_cfg
from pointhmr_mm.models.utils import MeshSampler
from pointhmr_mm.registry import MODELS


@pytest.fixture(scope='session')
def tiny_checkpoint(mannequin_dir, mesh_sampler_file, tmp_path_factory):
    """A config file and a checkpoint of a tiny PointHMR."""
    out = tmp_path_factory.mktemp('tiny_ckpt')
    num = MeshSampler(str(mesh_sampler_file)).num_vertices[-1]
    model_cfg = tiny_model_cfg(mannequin_dir, mesh_sampler_file, num)
    cfg = Config(dict(
        default_scope='pointhmr_mm', model=model_cfg,
        test_dataloader=dict(dataset=dict(pipeline=[
            dict(type='MeshAffineCrop', crop_size=TINY_IMAGE)]))))
    cfg.dump(str(out / 'tiny.py'))
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    torch.save(dict(state_dict=model.state_dict()), out / 'tiny.pth')
    return out / 'tiny.py', out / 'tiny.pth'
