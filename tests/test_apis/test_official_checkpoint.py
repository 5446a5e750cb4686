"""The converter against the released key layout, and the converted model
against an independent re-implementation of the released forward pass."""
import math
from pathlib import Path

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

from official_helpers import random_released_state_dict

ROOT = Path(__file__).parents[2]
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
    cfg.model.head.mesh_sampler.filename = str(smpl_sized /
                                               'mesh_downsampling.npz')
    cfg.model.body_model.model_path = str(smpl_sized / 'smpl')
    cfg.model.body_model.joint_regressors = dict(
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
