import pytest
import torch

from pointhmr_mm.models.utils import MeshSampler
from pointhmr_mm.registry import MODELS
from model_helpers import make_batch, tiny_model_cfg


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
    assert not [k for k in model.state_dict() if k.startswith('body_models')]
    assert not [n for n, p in model.named_parameters()
                if n.startswith('body_models')]


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


def test_gendered_gt_meshes_differ(model):
    pose, betas = torch.zeros(2, 72), torch.zeros(2, 10)
    male, _ = model.gt_meshes(pose, betas, ['male', 'male'])
    female, _ = model.gt_meshes(pose, betas, ['female', 'female'])
    assert not torch.allclose(male[-1], female[-1])


def test_vertex_count_mismatch_is_reported(body_model_dir, mesh_sampler_file):
    cfg = tiny_model_cfg(body_model_dir, mesh_sampler_file, 7)
    with pytest.raises(ValueError, match='num_vertices'):
        MODELS.build(cfg)


def test_gendered_models_are_built_on_first_use(body_model_dir,
                                                mesh_sampler_file):
    """Training needs only the neutral model; male and female come when
    evaluation first asks, and a mixed batch equals per-gender batches."""
    torch.manual_seed(0)
    num_vertices = MeshSampler(str(mesh_sampler_file)).num_vertices[-1]
    cfg = tiny_model_cfg(body_model_dir, mesh_sampler_file, num_vertices)
    cfg['gendered_eval'] = True
    model = MODELS.build(cfg)
    assert model.genders == ('neutral', 'male', 'female')
    assert set(model.body_models) == {'neutral'}
    pose, betas = torch.randn(2, 72) * 0.2, torch.randn(2, 10)
    mixed, _ = model.gt_meshes(pose, betas, ['male', 'female'])
    assert set(model.body_models) == {'neutral', 'male', 'female'}
    male, _ = model.gt_meshes(pose[:1], betas[:1], ['male'])
    female, _ = model.gt_meshes(pose[1:], betas[1:], ['female'])
    torch.testing.assert_close(mixed[-1], torch.cat([male[-1], female[-1]]))
    # still never in a checkpoint
    assert not [k for k in model.state_dict() if k.startswith('body_models')]
    cfg['gendered_eval'] = False
    with pytest.raises(KeyError, match='gendered_eval'):
        MODELS.build(cfg).get_body_model('male')


def test_missing_gendered_file_fails_at_build(tmp_path, body_model_dir,
                                              mesh_sampler_file):
    import shutil
    body_dir = tmp_path / 'body_models'
    shutil.copytree(body_model_dir, body_dir)
    for female in (body_dir / 'smpl').glob('SMPL_FEMALE.*'):
        female.unlink()
    num_vertices = MeshSampler(str(mesh_sampler_file)).num_vertices[-1]
    cfg = tiny_model_cfg(body_dir, mesh_sampler_file, num_vertices)
    cfg['gendered_eval'] = True
    with pytest.raises(FileNotFoundError, match='female'):
        MODELS.build(cfg)
    cfg['gendered_eval'] = False  # the neutral model alone is enough
    assert MODELS.build(cfg).genders == ('neutral', )


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
