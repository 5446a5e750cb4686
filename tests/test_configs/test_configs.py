"""Every model config in configs/ loads and builds (on the embedded Anny
body of tests/conftest.py)."""
import pytest
import torch
from mmengine.config import Config

from pointhmr_mm.models.utils import MeshSampler
from pointhmr_mm.registry import MODELS

from toolbox import ROOT

CONFIG_DIR = ROOT / 'configs'
CONFIGS = sorted(p for p in CONFIG_DIR.rglob('*.py')
                 if '_base_' not in p.parts)


def point_at_body_model(cfg, body_model_dir, sampler_file):
    targets = cfg.model.mesh_targets
    targets.mesh_sampler.filename = str(sampler_file)
    targets.body_model.model_path = str(body_model_dir / 'smpl')
    targets.body_model.joint_regressors = dict(
        h36m=str(body_model_dir / 'J_regressor_h36m.npy'))
    targets.num_vertices = MeshSampler(str(sampler_file)).num_vertices[-1]


def crop_size(cfg) -> int:
    crops = [t['crop_size'] for t in cfg.val_dataloader.dataset.pipeline
             if t['type'] == 'MeshAffineCrop']
    assert len(crops) == 1
    return crops[0]


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_config_builds(path, body_model_dir, mesh_sampler_file):
    """Every config builds, and the maps its backbone makes at its crop
    size are the ones its mesh targets derive: the grid tokens from the
    coarse map, the heatmap size from the fine one."""
    cfg = Config.fromfile(str(path))
    assert cfg.get('default_scope', 'pointhmr_mm') == 'pointhmr_mm'
    point_at_body_model(cfg, body_model_dir, mesh_sampler_file)
    model = MODELS.build(cfg.model).eval()
    targets = model.mesh_targets
    assert model.head.num_vertices == model.neck.num_vertices == \
        targets.num_vertices
    assert model.head.num_grid_tokens == targets.num_grid_tokens
    size = targets.crop_size
    # shapes only: on the meta device nothing is computed
    feats = model.backbone.to('meta')(
        torch.zeros(1, 3, size, size, device='meta'))
    fine, coarse = (feats[i] for i in model.neck.in_indices)
    assert coarse.shape[-2:].numel() == targets.num_grid_tokens
    assert tuple(fine.shape[-2:]) == (targets.heatmap_size, ) * 2
    # the neck reads a subset of the backbone's outputs: DDP needs this
    assert cfg.find_unused_parameters is True


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_sizes_are_declared_once(path):
    """The crop size is the data pipeline's; the vertex count, the grid
    tokens and the map sizes are set nowhere but in the mesh targets."""
    cfg = Config.fromfile(str(path))
    model = cfg.model
    assert model.mesh_targets.crop_size == crop_size(cfg)
    assert model.mesh_targets.num_vertices is not None
    assert 'num_vertices' not in model.neck
    for key in ('num_grid_tokens', 'mesh_sampler'):
        assert key not in model.head
    for key in ('body_model', 'gendered_eval', 'mesh_regressor'):
        assert key not in model
    for loss in ('loss_heatmap', 'loss_dice'):
        assert 'upscale' not in (model.head.get(loss) or {})


def test_quickstart_runs_at_its_crop_size(body_model_dir, mesh_sampler_file):
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
    assert cfg.model.neck.heatmap_hidden_dims < \
        cfg.model.mesh_targets.num_vertices
    point_at_body_model(cfg, body_model_dir, mesh_sampler_file)
    model = MODELS.build(cfg.model)
    assert model.neck.sample_vertices and model.neck.target_projection
    assert all(getattr(model.head, f'attn_mask_{i}') is not None
               for i in range(len(cfg.model.head.mask_hops)))
