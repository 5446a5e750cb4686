"""Session fixtures: a small generated body model and its mesh hierarchy.
Nothing licensed and nothing downloaded."""
import pytest
import torch

torch.set_num_threads(max(1, torch.get_num_threads()))

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
