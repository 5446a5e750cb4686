"""Mixed precision, activation checkpointing and the memory format:
PortableAmpOptimWrapper runs bf16 autocast on CPU, what must stay fp32
stays fp32, checkpointed decoders and transformer layers give the same
losses and gradients, and channels-last gives the same outputs."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from torch import nn

from pointhmr_mm.models.utils import MeshSampler
from pointhmr_mm.registry import MODELS
from pointhmr_mm.setup_env import register_all_modules

from toolbox.tiny_model import make_batch, tiny_model_cfg

AMP = dict(type='PortableAmpOptimWrapper', dtype='bfloat16',
           optimizer=dict(type='Adam', lr=1e-3))


@pytest.fixture(scope='module')
def model_cfg(body_model_dir, mesh_sampler_file):
    register_all_modules()
    num_vertices = MeshSampler(str(mesh_sampler_file)).num_vertices[-1]
    cfg = tiny_model_cfg(body_model_dir, mesh_sampler_file, num_vertices)
    cfg['head']['dropout'] = 0.  # deterministic for the comparisons
    return cfg


def build(cfg, seed=0):
    torch.manual_seed(seed)
    return MODELS.build(copy.deepcopy(cfg))


def test_wrapper_autocasts_bf16_on_cpu_and_steps():
    register_all_modules()
    layer = nn.Linear(4, 4)
    wrapper = build_optim_wrapper(layer, copy.deepcopy(AMP))
    before = layer.weight.detach().clone()
    with wrapper.optim_context(layer):
        out = layer(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).mean())
    assert not torch.equal(layer.weight, before)
    # bf16 needs no loss scaling: the scaler passes the loss through
    loss = torch.tensor(3.)
    assert wrapper.loss_scaler.scale(loss) is loss
    wrapper.load_state_dict(wrapper.state_dict())


def test_wrapper_autocasts_on_the_models_device(monkeypatch):
    """A model on the CPU of a machine with a GPU still runs in bf16
    (mmengine's own context autocasts on CUDA whenever a GPU exists)."""
    register_all_modules()
    import mmengine.runner.amp
    monkeypatch.setattr(mmengine.runner.amp, 'get_device', lambda: 'cuda')
    layer = nn.Linear(4, 4)
    wrapper = build_optim_wrapper(layer, copy.deepcopy(AMP))
    with wrapper.optim_context(layer):
        assert layer(torch.randn(2, 4)).dtype == torch.bfloat16


@pytest.mark.parametrize('cache_enabled', [True, False])
def test_wrapper_sets_the_autocast_weight_cache(cache_enabled):
    register_all_modules()
    layer = nn.Linear(4, 4)
    wrapper = build_optim_wrapper(
        layer, dict(copy.deepcopy(AMP), cache_enabled=cache_enabled))
    default = torch.is_autocast_cache_enabled()
    with wrapper.optim_context(layer):
        assert torch.is_autocast_cache_enabled() == cache_enabled
        assert layer(torch.randn(2, 4)).dtype == torch.bfloat16
    assert torch.is_autocast_cache_enabled() == default
    with pytest.raises(ValueError, match='cache_enabled'):
        build_optim_wrapper(layer, dict(copy.deepcopy(AMP),
                                        cache_enabled='off'))


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only check')
@pytest.mark.parametrize('amx, avx512_bf16', [(True, False), (False, True),
                                               (False, False)])
def test_auto_amp_is_on_only_where_it_pays(monkeypatch, amx, avx512_bf16):
    """enabled='auto': bf16 on a CPU with AMX or AVX-512 BF16, fp32 (no
    autocast) without either."""
    register_all_modules()
    import pointhmr_mm.utils.cpu as precision
    monkeypatch.setattr(precision, 'cpu_has_amx', lambda: amx)
    monkeypatch.setattr(precision, 'cpu_has_avx512_bf16', lambda: avx512_bf16)
    on = amx or avx512_bf16
    layer = nn.Linear(4, 4)
    wrapper = build_optim_wrapper(layer, dict(copy.deepcopy(AMP),
                                              enabled='auto'))
    with wrapper.optim_context(layer):
        out = layer(torch.randn(2, 4))
    assert out.dtype == (torch.bfloat16 if on else torch.float32)
    assert wrapper.cast_dtype == (torch.bfloat16 if on else None)
    wrapper.update_params(out.float().pow(2).mean())
    with pytest.raises(ValueError, match='enabled'):
        build_optim_wrapper(layer, dict(copy.deepcopy(AMP), enabled='yes'))


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only check')
def test_fp16_on_cpu_is_refused():
    register_all_modules()
    cfg = dict(AMP, dtype='float16')
    with pytest.raises(ValueError, match='bfloat16'):
        build_optim_wrapper(nn.Linear(2, 2), cfg)
    with pytest.raises(ValueError, match='dtype'):
        build_optim_wrapper(nn.Linear(2, 2), dict(AMP, dtype='int8'))


def test_bf16_train_step_keeps_fp32_regions(model_cfg):
    model = build(model_cfg).train()
    wrapper = build_optim_wrapper(model, copy.deepcopy(AMP))
    data = model.data_preprocessor(make_batch(), training=True)
    with wrapper.optim_context(model):
        outputs = model._run(data['inputs'])
        mesh_joints = model.mesh_targets.regress_j14(
            outputs['pred_vertices'][-1])
        losses = model.loss(data['inputs'], data['data_samples'])
        gt, _ = model.mesh_targets.gt_meshes(
            torch.stack([s.gt_pose for s in data['data_samples']]),
            torch.stack([s.gt_betas for s in data['data_samples']]))
    # the decoders did run in bf16 ...
    assert outputs['heatmap_logits'].dtype == torch.bfloat16
    # ... while the pixel softmax, 3D outputs, GT meshes and losses are fp32
    assert outputs['heatmap_probs'].dtype == torch.float32
    assert outputs['pred_camera'].dtype == torch.float32
    assert all(v.dtype == torch.float32 for v in outputs['pred_vertices'])
    assert mesh_joints.dtype == torch.float32
    assert all(v.dtype == torch.float32 for v in gt)
    assert all(v.dtype == torch.float32 and torch.isfinite(v)
               for v in losses.values())
    # the GT meshes equal the ones made outside autocast
    gt_fp32, _ = model.mesh_targets.gt_meshes(
        torch.stack([s.gt_pose for s in data['data_samples']]),
        torch.stack([s.gt_betas for s in data['data_samples']]))
    for a, b in zip(gt, gt_fp32):
        torch.testing.assert_close(a, b)
    log = model.train_step(make_batch(), wrapper)
    assert torch.isfinite(log['loss'])


def test_checkpointed_decoders_give_the_same_gradients(model_cfg):
    cp_cfg = copy.deepcopy(model_cfg)
    cp_cfg['neck']['with_cp'] = True
    cp_cfg['backbone'] = dict(cp_cfg['backbone'], with_cp=True)
    cp_cfg['head']['with_cp'] = True
    plain, checkpointed = build(model_cfg), build(cp_cfg)
    checkpointed.load_state_dict(plain.state_dict())
    assert checkpointed.neck.heatmap_decoder[0].with_cp
    assert checkpointed.head.blocks[0].with_cp
    grads = []
    for model in (plain, checkpointed):
        model.train()
        data = model.data_preprocessor(make_batch(), training=True)
        total = sum(model.loss(**data).values())
        total.backward()
        grads.append({n: p.grad for n, p in model.named_parameters()
                      if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    # the recomputed forwards leave the BN statistics as one forward does
    stats = [{n: b for n, b in m.named_buffers()
              if 'running' in n or 'num_batches' in n}
             for m in (plain, checkpointed)]
    assert stats[0].keys() == stats[1].keys() and stats[0]
    for name, ref in stats[0].items():
        torch.testing.assert_close(stats[1][name], ref, msg=name)
    for name, ref in grads[0].items():
        # recomputation reorders float sums: tolerance relative to the
        # tensor's largest gradient
        torch.testing.assert_close(grads[1][name], ref, rtol=0,
                                   atol=1e-5 * ref.abs().max().item(),
                                   msg=name)


def test_batch_norm_guard_only_inside_checkpointed_modules(model_cfg):
    """The recompute guard (a Python hook pair per BN) goes on the BNs
    of checkpointed modules only; there the statistics still equal one
    forward's (neck checkpointed, backbone not, as the recipe's opposite
    case)."""
    from torch.nn.modules.batchnorm import _BatchNorm
    from pointhmr_mm.models.utils.checkpointing import _GUARD
    cp_cfg = copy.deepcopy(model_cfg)
    cp_cfg['neck']['with_cp'] = True
    plain, checkpointed = build(model_cfg), build(cp_cfg)
    checkpointed.load_state_dict(plain.state_dict())
    for model in (plain, checkpointed):
        model.train()
        data = model.data_preprocessor(make_batch(), training=True)
        sum(model.loss(**data).values()).backward()

    def guarded(module):
        return [hasattr(m, _GUARD) for m in module.modules()
                if isinstance(m, _BatchNorm)]

    assert not any(guarded(plain))
    assert all(guarded(checkpointed.neck))
    assert not any(guarded(checkpointed.backbone))
    for (name, ref), got in zip(plain.neck.named_buffers(),
                                checkpointed.neck.buffers()):
        torch.testing.assert_close(got, ref, msg=name)


def _grads_after_one_loss(model, seed):
    model.train()
    data = model.data_preprocessor(make_batch(), training=True)
    torch.manual_seed(seed)
    total = sum(model.loss(**data).values())
    total.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()
             if p.grad is not None}
    model.zero_grad()
    return total.detach(), grads


def test_checkpointed_transformer_replays_its_dropout(model_cfg):
    cfg = copy.deepcopy(model_cfg)
    cfg['head']['dropout'] = 0.1
    cp_cfg = copy.deepcopy(cfg)
    cp_cfg['head']['with_cp'] = True
    plain, checkpointed = build(cfg), build(cp_cfg)
    checkpointed.load_state_dict(plain.state_dict())
    loss, ref = _grads_after_one_loss(plain, seed=5)
    cp_loss, grads = _grads_after_one_loss(checkpointed, seed=5)
    torch.testing.assert_close(cp_loss, loss)
    other, _ = _grads_after_one_loss(plain, seed=6)
    assert not torch.allclose(other, loss)  # dropout does draw masks
    for name, value in ref.items():
        torch.testing.assert_close(grads[name], value, rtol=0,
                                   atol=1e-5 * value.abs().max().item(),
                                   msg=name)


def test_channels_last_gives_the_same_outputs(model_cfg):
    nhwc_cfg = dict(copy.deepcopy(model_cfg), channels_last=True)
    plain, nhwc = build(model_cfg), build(nhwc_cfg)
    nhwc.load_state_dict(plain.state_dict())
    conv = next(m for m in nhwc.backbone.modules()
                if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    outputs = []
    for model in (plain, nhwc):
        model.eval()
        data = model.data_preprocessor(make_batch(), training=False)
        with torch.no_grad():
            outputs.append(model._run(data['inputs']))
    for key in ('pred_camera', 'heatmap_probs', 'pred_joints_3d'):
        torch.testing.assert_close(outputs[1][key], outputs[0][key],
                                   rtol=1e-4, atol=1e-5, msg=key)
    torch.testing.assert_close(outputs[1]['pred_vertices'][-1],
                               outputs[0]['pred_vertices'][-1],
                               rtol=1e-4, atol=1e-5)


def test_channels_last_setting_is_checked(model_cfg):
    with pytest.raises(ValueError, match='channels_last'):
        build(dict(copy.deepcopy(model_cfg), channels_last='yes'))


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only check')
@pytest.mark.parametrize('amx', [True, False])
def test_auto_channels_last_follows_amx(monkeypatch, model_cfg, amx):
    """channels_last='auto' follows AMX alone: AVX-512 BF16 does not turn
    it on (slower there, DEVELOPERS.md)."""
    import pointhmr_mm.utils.cpu as precision
    monkeypatch.setattr(precision, 'cpu_has_amx', lambda: amx)
    monkeypatch.setattr(precision, 'cpu_has_avx512_bf16', lambda: True)
    assert precision.resolve_channels_last('auto') is amx
    model = build(dict(copy.deepcopy(model_cfg), channels_last='auto'))
    assert model.channels_last is amx


@pytest.mark.parametrize('channels_last', [False, True])
def test_fused_conv_bn_gives_the_same_outputs(model_cfg, channels_last):
    cfg = dict(copy.deepcopy(model_cfg), channels_last=channels_last)
    model = build(cfg).train()
    data = model.data_preprocessor(make_batch(), training=False)
    with torch.no_grad():  # running statistics that are not 0 / 1
        model.extract_feat(data['inputs'])
    model.eval()
    fused = copy.deepcopy(model).fuse_conv_bn()
    assert not any(isinstance(m, nn.BatchNorm2d)
                   for m in fused.backbone.modules())
    assert not any(isinstance(m, nn.BatchNorm2d)
                   for m in fused.neck.modules())
    conv = next(m for m in fused.backbone.modules()
                if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    assert conv.bias is not None
    assert conv.weight.is_contiguous(
        memory_format=torch.channels_last) == channels_last
    with torch.no_grad():
        ref, out = model._run(data['inputs']), fused._run(data['inputs'])
    for key in ('pred_camera', 'heatmap_probs', 'pred_joints_3d'):
        torch.testing.assert_close(out[key], ref[key], rtol=1e-4, atol=1e-5,
                                   msg=key)


def test_fuse_conv_bn_refuses_training_mode(model_cfg):
    with pytest.raises(RuntimeError, match='eval mode'):
        build(model_cfg).train().fuse_conv_bn()
