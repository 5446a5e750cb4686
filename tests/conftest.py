"""Session fixtures: a small generated body model and its mesh hierarchy.
Nothing licensed and nothing downloaded."""
import pytest
import torch
from mmengine.config import Config

# Small enough to generate in a few seconds, large enough to decimate twice.
TEST_MANNEQUIN_VERTICES = 600
TEST_SAMPLER_LEVELS = (300, 150)


@pytest.fixture(scope='session')
def mannequin_dir(tmp_path_factory):
    from pointhmr_mm.models.body_models.mannequin import make_mannequin_files
    out = tmp_path_factory.mktemp('mannequin')
    make_mannequin_files(out, num_vertices=TEST_MANNEQUIN_VERTICES, seed=0)
    return out


@pytest.fixture(scope='session')
def mesh_sampler_file(mannequin_dir):
    from pointhmr_mm.models.body_models import SMPL
    from pointhmr_mm.models.utils import build_mesh_sampler
    body = SMPL(str(mannequin_dir / 'smpl'))
    sampler = build_mesh_sampler(body.v_template.numpy(), body.faces.numpy(),
                                 levels=TEST_SAMPLER_LEVELS)
    path = mannequin_dir / 'mesh_downsampling.npz'
    sampler.save(str(path))
    return path


@pytest.fixture(scope='session')
def tiny_checkpoint(mannequin_dir, mesh_sampler_file, tmp_path_factory):
    """A config file and a checkpoint of a tiny PointHMR."""
    from model_helpers import TINY_IMAGE, tiny_model_cfg
    from pointhmr_mm.models.utils import MeshSampler
    from pointhmr_mm.registry import MODELS
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
