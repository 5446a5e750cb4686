import pytest
import torch

from pointhmr_mm.models.utils import MeshSampler
from pointhmr_mm.registry import MODELS

from toolbox.tiny_model import make_batch, tiny_model_cfg


@pytest.fixture(scope='module')
def model(body_model_dir, mesh_sampler_file):
    torch.manual_seed(0)
    num_vertices = MeshSampler(str(mesh_sampler_file)).num_vertices[-1]
    return MODELS.build(
        tiny_model_cfg(body_model_dir, mesh_sampler_file, num_vertices))


def run(model, batch, mode):
    data = model.data_preprocessor(batch, training=mode == 'loss')
    return model(**data, mode=mode)


def test_every_parameter_gets_a_gradient(model):
    model.train()
    model.zero_grad()
    losses = run(model, make_batch(), 'loss')
    assert {'loss_vertices', 'loss_joints_3d', 'loss_mesh_joints_3d',
            'loss_joints_2d', 'loss_mesh_joints_2d', 'loss_heatmap',
            'loss_dice'} <= set(losses)
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    # HRNet's last fuse layers also make the 1/8 and 1/16 outputs, which
    # PointHMR (like the released model) never reads.
    unused_outputs = tuple(f'backbone.stage4.0.fuse_layers.{i}.'
                           for i in (1, 2))
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not p.grad.any())
               and not n.startswith(unused_outputs)]
    assert not missing


def test_unlabelled_samples_add_nothing(model):
    model.train()
    losses = run(model, make_batch(labelled=False), 'loss')
    for name, value in losses.items():
        assert torch.isfinite(value), name
        assert value.item() == 0, name


def test_checkpoint_carries_no_body_model(model):
    """Body models and the mesh hierarchy come from the user's files: no
    state-dict key and no parameter of theirs (also through the head)."""
    assert model.mesh_targets is model.head.mesh_targets
    assert not [k for k in model.state_dict() if 'mesh_targets' in k
                or 'body_models' in k or 'mesh_sampler' in k]
    assert not [n for n, p in model.named_parameters()
                if 'mesh_targets' in n]


def test_predict_and_tensor_modes(model):
    model.eval()
    num_full = model.body_model.num_vertices
    num_coarse = model.head.num_vertices
    with torch.no_grad():
        samples = run(model, make_batch(), 'predict')
        camera, joints, vertices = run(model, make_batch(), 'tensor')
    assert camera.shape == (2, 3) and joints.shape == (2, 14, 3)
    assert vertices.shape == (2, num_full, 3)
    s = samples[0]
    assert s.pred_vertices.shape == (num_full, 3)
    assert s.pred_vertices_coarse.shape == (num_coarse, 3)
    assert s.pred_keypoints_3d_h36m.shape == (17, 3)
    assert s.gt_vertices.shape == (num_full, 3)
    # GT meshes are centred on their pelvis
    torch.testing.assert_close(s.gt_keypoints_3d_h36m[0], torch.zeros(3),
                               atol=1e-5, rtol=0)


def test_vertex_count_mismatch_is_reported(body_model_dir, mesh_sampler_file):
    cfg = tiny_model_cfg(body_model_dir, mesh_sampler_file, None)
    cfg['neck']['num_vertices'] = 7
    with pytest.raises(ValueError, match='neck.num_vertices=7'):
        MODELS.build(cfg)
    cfg = tiny_model_cfg(body_model_dir, mesh_sampler_file, 7)
    with pytest.raises(ValueError, match='mesh_targets.num_vertices=7'):
        MODELS.build(cfg)


def test_sizes_come_from_the_mesh_targets(model):
    targets = model.mesh_targets
    assert model.neck.num_vertices == model.head.num_vertices == \
        targets.num_vertices == targets.mesh_sampler.num_vertices[-1]
    assert model.head.num_grid_tokens == (targets.crop_size // 32)**2 == 4
    assert model.head.loss_heatmap.upscale == targets.heatmap_upscale
    assert model.head.loss_dice.upscale == targets.heatmap_upscale


def test_heatmaps_reach_the_losses_through_the_head(model):
    """The head passes the neck's maps on; a map of another size than the
    mesh targets' is refused with their settings in the message."""
    model.eval()
    data = model.data_preprocessor(make_batch(), training=False)
    with torch.no_grad():
        tokens = model.extract_feat(data['inputs'])
        outputs = model.head(tokens)
    assert outputs['heatmap_logits'] is tokens['heatmap_logits']
    assert outputs['heatmap_probs'] is tokens['heatmap_probs']
    side = model.mesh_targets.heatmap_size
    assert outputs['heatmap_logits'].shape[-2:] == (side, side)
    targets = model.mesh_targets.loss_targets(data['data_samples'])
    outputs['heatmap_logits'] = outputs['heatmap_logits'][..., :-1, :-1]
    outputs['heatmap_probs'] = None
    with pytest.raises(ValueError, match='heatmap_stride=4'):
        model.head.loss(outputs, targets)


def test_compile_modules_keeps_state_dict_and_outputs(body_model_dir,
                                                      mesh_sampler_file):
    """model.compile_modules compiles backbone, neck and head in place:
    same state dict keys, same outputs (dynamo with the eager backend, so
    the test does not pay for code generation)."""
    num_vertices = MeshSampler(str(mesh_sampler_file)).num_vertices[-1]
    cfg = tiny_model_cfg(body_model_dir, mesh_sampler_file, num_vertices)
    torch.manual_seed(0)
    plain = MODELS.build(cfg).eval()
    torch.manual_seed(0)
    compiled = MODELS.build(dict(cfg, compile_modules=dict(
        backend='eager'))).eval()
    assert list(compiled.state_dict()) == list(plain.state_dict())
    compiled.load_state_dict(plain.state_dict())
    with torch.no_grad():
        expected = run(plain, make_batch(), 'tensor')
        got = run(compiled, make_batch(), 'tensor')
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)
    with pytest.raises(TypeError, match='compile_modules'):
        MODELS.build(dict(cfg, compile_modules='yes'))
