"""A checkpoint written by the estimator that held its own body models and
mesh sampler (``model.body_model``, ``model.head.mesh_sampler``) loads into
today's PointHMR with the same keys and shapes, and gives the same outputs,
losses and gradients (``tests/data/README.md`` says how it was made)."""
import copy

import pytest
import torch
from mmengine.structures import BaseDataElement

from pointhmr_mm.registry import MODELS

from toolbox import ROOT
from toolbox.tiny_model import mesh_targets_cfg, small_hrnet

CHECKPOINT = ROOT / 'tests' / 'data' / 'tiny_pointhmr_before_mesh_targets.pt'
# The checkpoint's network: a 4-branch HRNet 4/8/16/32 channels wide, a
# neck with an 8-wide heatmap decoder, on the 600-vertex test body
# (tests/conftest.py) with its 150-vertex coarse level.
HRNET = small_hrnet(4)
NUM_VERTICES = 150
SAMPLE_FIELDS = ('gt_keypoints_2d', 'gt_keypoints_3d', 'gt_pose', 'gt_betas',
                 'has_smpl')


@pytest.fixture(scope='module')
def checkpoint():
    return torch.load(CHECKPOINT, map_location='cpu', weights_only=True)


def tiny_cfg(body_model_dir, mesh_sampler_file):
    return dict(
        type='PointHMR',
        data_preprocessor=dict(
            type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        backbone=HRNET,
        neck=dict(type='PointGuidedSamplingNeck', in_channels=(4, 32),
                  in_indices=(0, 3), embed_dims=16, num_heatmap_blocks=1,
                  num_target_blocks=1, heatmap_hidden_dims=8),
        head=dict(type='MaskedMeshTransformerHead', in_channels=16,
                  position_dims=8, embed_dims=(24, 24, 8, 8),
                  ffn_dims=(32, 32, 16, 16), num_layers=(1, 1, 1, 1),
                  num_heads=2, dropout=0.,
                  loss_vertex=dict(type='VertexL1Loss',
                                   level_weights=(0.33, ) * 3)),
        mesh_targets=mesh_targets_cfg(body_model_dir, mesh_sampler_file,
                                      NUM_VERTICES))


@pytest.fixture(scope='module')
def model(body_model_dir, mesh_sampler_file):
    return MODELS.build(tiny_cfg(body_model_dir, mesh_sampler_file))


def batch(checkpoint):
    """The batch the reference outputs were computed on."""
    inputs = checkpoint['inputs']
    samples = []
    for i, gender in enumerate(inputs['genders']):
        sample = BaseDataElement(metainfo=dict(gender=gender))
        sample.set_data({k: inputs[k][i] for k in SAMPLE_FIELDS})
        samples.append(sample)
    return dict(inputs=list(inputs['images']), data_samples=samples)


def test_keys_and_shapes_are_unchanged(model, checkpoint):
    old = checkpoint['state_dict']
    new = model.state_dict()
    assert list(new) == list(old)
    assert {k: v.shape for k, v in new.items()} == \
        {k: v.shape for k, v in old.items()}
    result = model.load_state_dict(old, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_outputs_are_unchanged(model, checkpoint):
    model.load_state_dict(checkpoint['state_dict'])
    expected = checkpoint['outputs']
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(batch(checkpoint), False)
        got = dict(zip(('pred_camera', 'pred_joints_3d', 'pred_vertices'),
                       model(data['inputs'], mode='tensor')))
        samples = model(**data, mode='predict')
    for key in ('pred_vertices_coarse', 'pred_keypoints_3d_h36m',
                'gt_vertices', 'gt_keypoints_3d_h36m'):
        got[key] = torch.stack([getattr(s, key) for s in samples])
    for key, value in got.items():
        torch.testing.assert_close(value, expected[key], msg=key)


def test_losses_and_gradients_are_unchanged(model, checkpoint):
    model.load_state_dict(checkpoint['state_dict'])
    expected = checkpoint['outputs']
    model.train()
    model.zero_grad()
    data = model.data_preprocessor(copy.deepcopy(batch(checkpoint)), True)
    losses = model(**data, mode='loss')
    assert set(losses) == set(expected['losses'])
    for key, value in losses.items():
        torch.testing.assert_close(value, expected['losses'][key], msg=key)
    sum(losses.values()).backward()
    for part, norm in expected['grad_norms'].items():
        grads = [p.grad.norm() for n, p in model.named_parameters()
                 if n.startswith(part) and p.grad is not None]
        torch.testing.assert_close(torch.stack(grads).norm(), norm, msg=part)


def test_the_same_seed_builds_the_same_weights(body_model_dir,
                                               mesh_sampler_file,
                                               checkpoint):
    """Seeded runs (the quick start) start from the same weights: the
    checkpoint's model was built after ``torch.manual_seed(0)`` (its batch
    norm statistics were redrawn afterwards)."""
    torch.manual_seed(0)
    state = MODELS.build(tiny_cfg(body_model_dir,
                                  mesh_sampler_file)).state_dict()
    for key, value in checkpoint['state_dict'].items():
        if 'running_' not in key:
            assert torch.equal(state[key], value), key
