import pytest
import torch

from pointhmr_mm.models.heads import MaskedMeshTransformerHead
from pointhmr_mm.registry import TASK_UTILS

from toolbox.tiny_model import mesh_targets_cfg


@pytest.fixture(scope='module')
def targets(body_model_dir, mesh_sampler_file):
    return TASK_UTILS.build(mesh_targets_cfg(body_model_dir,
                                             mesh_sampler_file))


@pytest.fixture(scope='module')
def sampler(targets):
    return targets.mesh_sampler


def tiny_head(targets, **kwargs):
    cfg = dict(mesh_targets=targets, num_joints=3, in_channels=8,
               position_dims=4, embed_dims=(12, 12, 8, 8),
               ffn_dims=(16, 16, 8, 8), num_layers=(1, 1, 1, 1), num_heads=2)
    cfg.update(kwargs)
    return MaskedMeshTransformerHead(**cfg)


def tokens(num_vertices, batch=2):
    return dict(camera_token=torch.randn(batch, 1, 8),
                grid_tokens=torch.randn(batch, 4, 8),
                vertex_tokens=torch.randn(batch, num_vertices, 8))


def test_bad_arguments(targets):
    with pytest.raises(ValueError, match='one entry per block'):
        tiny_head(targets, mask_hops=(7, 5))
    with pytest.raises(ValueError, match='in_channels \\+ position_dims'):
        tiny_head(targets, embed_dims=(16, 16, 8, 8))
    # the losses' upscale is the mesh targets'
    with pytest.raises(ValueError, match='mesh_targets.heatmap_upscale=2'):
        tiny_head(targets, loss_dice=dict(type='HeatmapDiceLoss', upscale=1))


def test_sizes_and_losses_follow_the_mesh_targets(targets):
    head = tiny_head(targets)
    assert head.mesh_targets is targets
    assert head.num_vertices == targets.num_vertices
    assert head.num_grid_tokens == targets.num_grid_tokens == 4
    assert head.num_tokens == 1 + 4 + 3 + targets.num_vertices
    assert head.loss_heatmap.upscale == head.loss_dice.upscale == 2
    # the mesh targets add no key to the head's checkpoint
    assert not [k for k in head.state_dict() if 'mesh_targets' in k]


def test_shapes_and_upsampling(targets, sampler):
    head = tiny_head(targets)
    out = head(tokens(sampler.num_vertices[-1]))
    assert out['pred_camera'].shape == (2, 3)
    assert out['pred_joints_3d'].shape == (2, 3, 3)
    sizes = [v.shape[1] for v in out['pred_vertices']]
    assert sizes == list(reversed(sampler.num_vertices))
    with pytest.raises(ValueError, match='tokens'):
        head(tokens(sampler.num_vertices[-1] + 1))


def test_masks_follow_khop_on_vertices_only(targets, sampler):
    head = tiny_head(targets, mask_hops=(7, 5, 3, None))
    v = sampler.num_vertices[-1]
    first = head.num_tokens - v
    for i, hops in enumerate((7, 5, 3)):
        mask = getattr(head, f'attn_mask_{i}')
        assert mask.shape == (head.num_tokens, head.num_tokens)
        assert torch.equal(mask[first:, first:], sampler.khop_mask(-1, hops))
        assert mask[:first].all() and mask[:, :first].all()
    assert head.attn_mask_3 is None
    # masks derive from topology and stay out of checkpoints
    assert not [k for k in head.state_dict() if 'attn_mask' in k]


def test_neck_maps_are_passed_on(targets):
    head = tiny_head(targets)
    inputs = tokens(targets.num_vertices)
    assert head(inputs)['heatmap_logits'] is None
    inputs['heatmap_logits'] = torch.randn(2, targets.num_vertices, 16, 16)
    inputs['heatmap_probs'] = inputs['heatmap_logits'].flatten(2).softmax(-1)
    out = head(inputs)
    assert out['heatmap_logits'] is inputs['heatmap_logits']
    assert out['heatmap_probs'] is inputs['heatmap_probs']
