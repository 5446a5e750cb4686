import pytest
import torch

from pointhmr_mm.models.heads import MaskedMeshTransformerHead
from pointhmr_mm.models.utils import MeshSampler


@pytest.fixture(scope='module')
def sampler(mesh_sampler_file):
    return MeshSampler(str(mesh_sampler_file))


def tiny_head(sampler, **kwargs):
    cfg = dict(mesh_sampler=sampler, num_joints=3, in_channels=8,
               position_dims=4, num_grid_tokens=4, embed_dims=(12, 12, 8, 8),
               ffn_dims=(16, 16, 8, 8), num_layers=(1, 1, 1, 1), num_heads=2)
    cfg.update(kwargs)
    return MaskedMeshTransformerHead(**cfg)


def tokens(num_vertices, batch=2):
    return dict(camera_token=torch.randn(batch, 1, 8),
                grid_tokens=torch.randn(batch, 4, 8),
                vertex_tokens=torch.randn(batch, num_vertices, 8))


def test_bad_arguments(sampler):
    with pytest.raises(ValueError, match='one entry per block'):
        tiny_head(sampler, mask_hops=(7, 5))
    with pytest.raises(ValueError, match='in_channels \\+ position_dims'):
        tiny_head(sampler, embed_dims=(16, 16, 8, 8))


def test_shapes_and_upsampling(sampler):
    head = tiny_head(sampler)
    out = head(tokens(sampler.num_vertices[-1]))
    assert out['pred_camera'].shape == (2, 3)
    assert out['pred_joints_3d'].shape == (2, 3, 3)
    sizes = [v.shape[1] for v in out['pred_vertices']]
    assert sizes == list(reversed(sampler.num_vertices))
    with pytest.raises(ValueError, match='tokens'):
        head(tokens(sampler.num_vertices[-1] + 1))


def test_masks_follow_khop_on_vertices_only(sampler):
    head = tiny_head(sampler, mask_hops=(7, 5, 3, None))
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


def test_heatmap_targets_drop_outside_vertices():
    verts = torch.tensor([[[0., 0., 0.], [0.99, -0.99, 0.], [1.5, 0., 0.]]])
    camera = torch.tensor([[1., 0., 0.]])
    index = MaskedMeshTransformerHead.heatmap_targets(verts, camera, 4)
    # (0, 0) -> pixel (2, 2); (0.99, -0.99) -> column 3, row 0; x = 1.5 out
    assert index.tolist() == [[2 * 4 + 2, 0 * 4 + 3, -1]]
