"""Every model config in configs/ loads and builds (on the embedded Anny
body of tests/conftest.py)."""
from pathlib import Path

import pytest
from mmengine.config import Config

from pointhmr_mm.models.utils import MeshSampler
from pointhmr_mm.registry import MODELS

CONFIG_DIR = Path(__file__).parents[2] / 'configs'
CONFIGS = sorted(p for p in CONFIG_DIR.rglob('*.py') if '_base_' not in p.parts)


def point_at_body_model(cfg, body_model_dir, sampler_file):
    model = cfg.model
    model.head.mesh_sampler.filename = str(sampler_file)
    model.body_model.model_path = str(body_model_dir / 'smpl')
    model.body_model.joint_regressors = dict(
        h36m=str(body_model_dir / 'J_regressor_h36m.npy'))
    model.neck.num_vertices = MeshSampler(str(sampler_file)).num_vertices[-1]


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_config_builds(path, body_model_dir, mesh_sampler_file):
    cfg = Config.fromfile(str(path))
    assert cfg.get('default_scope', 'pointhmr_mm') == 'pointhmr_mm'
    point_at_body_model(cfg, body_model_dir, mesh_sampler_file)
    model = MODELS.build(cfg.model)
    assert model.head.num_vertices == model.neck.num_vertices
    # the neck reads a subset of the backbone's outputs: DDP needs this
    assert cfg.find_unused_parameters is True


def crop_size(cfg) -> int:
    crops = [t['crop_size'] for t in cfg.val_dataloader.dataset.pipeline
             if t['type'] == 'MeshAffineCrop']
    assert len(crops) == 1
    return crops[0]


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_grid_tokens_match_the_crop(path):
    """The coarsest backbone map (stride 32) gives the grid tokens."""
    cfg = Config.fromfile(str(path))
    if 'val_dataloader' not in cfg:
        pytest.skip('no data pipeline')
    grid = crop_size(cfg) // 32
    assert cfg.model.head.get('num_grid_tokens', 49) == grid**2


def test_quickstart_runs_at_its_crop_size(body_model_dir, mesh_sampler_file):
    import torch
    cfg = Config.fromfile(str(CONFIG_DIR / 'quickstart' /
                              'pointhmr_quickstart.py'))
    point_at_body_model(cfg, body_model_dir, mesh_sampler_file)
    model = MODELS.build(cfg.model).eval()
    size = crop_size(cfg)
    with torch.no_grad():
        camera, joints, vertices = model(torch.zeros(2, 3, size, size))
    assert camera.shape == (2, 3) and joints.shape == (2, 14, 3)
    assert vertices.shape == (2, model.body_model.num_vertices, 3)


@pytest.mark.parametrize('name', ['pointhmr_lite_hrnet_w32.py',
                                  'quickstart/pointhmr_lite_quickstart.py'])
def test_lite_keeps_sampling_and_masks(name, body_model_dir,
                                       mesh_sampler_file):
    """PointHMR-Lite is lighter decoders, not a different method."""
    cfg = Config.fromfile(str(CONFIG_DIR / name))
    full = Config.fromfile(str(CONFIG_DIR / name.replace('_lite', '')))
    assert cfg.model.neck.get('sample_vertices', True)
    assert cfg.model.head.mask_hops == full.model.head.mask_hops
    assert all(hops is not None for hops in cfg.model.head.mask_hops)
    assert cfg.model.head.loss_heatmap and cfg.model.head.loss_dice
    assert cfg.model.neck.heatmap_hidden_dims < cfg.model.neck.num_vertices
    point_at_body_model(cfg, body_model_dir, mesh_sampler_file)
    model = MODELS.build(cfg.model)
    assert model.neck.sample_vertices and model.neck.target_projection
    assert all(getattr(model.head, f'attn_mask_{i}') is not None
               for i in range(len(cfg.model.head.mask_hops)))
