"""Every model config in configs/ loads and builds (on the mannequin)."""
from pathlib import Path

import pytest
from mmengine.config import Config

from pointhmr_mm.models.utils import MeshSampler
from pointhmr_mm.registry import MODELS

CONFIG_DIR = Path(__file__).parents[2] / 'configs'
CONFIGS = sorted(p for p in CONFIG_DIR.rglob('*.py') if '_base_' not in p.parts)


def point_at_mannequin(cfg, mannequin_dir, sampler_file):
    model = cfg.model
    model.head.mesh_sampler.filename = str(sampler_file)
    model.body_model.model_path = str(mannequin_dir / 'smpl')
    model.body_model.joint_regressors = dict(
        h36m=str(mannequin_dir / 'J_regressor_h36m.npy'))
    model.neck.num_vertices = MeshSampler(str(sampler_file)).num_vertices[-1]


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_config_builds(path, mannequin_dir, mesh_sampler_file):
    cfg = Config.fromfile(str(path))
    assert cfg.get('default_scope', 'pointhmr_mm') == 'pointhmr_mm'
    point_at_mannequin(cfg, mannequin_dir, mesh_sampler_file)
    model = MODELS.build(cfg.model)
    assert model.head.num_vertices == model.neck.num_vertices
