import pytest
import torch

from pointhmr_mm.models.layers import sine_position_encoding
from pointhmr_mm.models.necks import PointGuidedSamplingNeck


def tiny_neck(**kwargs):
    cfg = dict(in_channels=(4, 8), in_indices=(0, 1), num_vertices=5,
               embed_dims=8, num_heatmap_blocks=1, num_target_blocks=1)
    cfg.update(kwargs)
    return PointGuidedSamplingNeck(**cfg)


def feats(batch=2):
    return [torch.randn(batch, 4, 8, 8), torch.randn(batch, 8, 2, 2)]


def test_bad_arguments():
    with pytest.raises(ValueError, match='two'):
        tiny_neck(in_channels=(4, ))
    with pytest.raises(ValueError, match='multiple of 4'):
        tiny_neck(embed_dims=6)


def test_shapes():
    out = tiny_neck()(feats())
    assert out['camera_token'].shape == (2, 1, 8)
    assert out['grid_tokens'].shape == (2, 4, 8)
    assert out['vertex_tokens'].shape == (2, 5, 8)
    assert out['heatmap_logits'].shape == (2, 5, 8, 8)


def test_grid_only_variant_samples_nothing():
    neck = tiny_neck(sample_vertices=False)
    assert not hasattr(neck, 'heatmap_decoder')
    out = neck(feats())
    assert out['heatmap_logits'] is None
    assert out['vertex_tokens'].shape == (2, 5, 8)


class Fixed(torch.nn.Module):
    """Stands in for a decoder and returns a fixed map."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, x):
        return self.value


def test_one_hot_heatmap_returns_that_pixel():
    neck = tiny_neck().eval()
    target = torch.randn(2, 8, 8, 8)
    logits = torch.full((2, 5, 8, 8), float('-inf'))
    pixels = [(0, 0), (3, 5), (7, 7), (2, 1), (6, 0)]
    for v, (r, c) in enumerate(pixels):
        logits[:, v, r, c] = 0.
    neck.heatmap_decoder = Fixed(logits)
    neck.target_decoder = Fixed(target)
    out = neck(feats())
    expected = target + sine_position_encoding(8, 8, 4)
    for v, (r, c) in enumerate(pixels):
        torch.testing.assert_close(out['vertex_tokens'][:, v],
                                   expected[:, :, r, c], rtol=0, atol=0)


def test_lite_decoders_are_narrow_and_projected():
    neck = tiny_neck(heatmap_hidden_dims=4, target_dims=4).eval()
    # blocks at the narrow width, the 1x1 conv widens to V
    assert neck.heatmap_decoder[0].conv2.out_channels == 4
    assert neck.heatmap_decoder[-1].out_channels == 5
    assert neck.target_decoder[-1].out_channels == 4
    inputs = feats()
    out = neck(inputs)
    assert out['vertex_tokens'].shape == (2, 5, 8)
    assert out['heatmap_logits'].shape == (2, 5, 8, 8)
    # vertex tokens are the projected samples of the narrow target map
    target = neck._add_position(neck.target_decoder(inputs[0]))
    torch.testing.assert_close(
        out['vertex_tokens'],
        neck.target_projection(out['heatmap_probs'] @ target))
    with pytest.raises(ValueError, match='target_dims'):
        tiny_neck(target_dims=6)


def test_heatmap_probs_are_the_fp32_sampling_weights():
    out = tiny_neck().eval()(feats())
    probs = out['heatmap_probs']
    assert probs.dtype == torch.float32 and probs.shape == (2, 5, 64)
    torch.testing.assert_close(probs,
                               out['heatmap_logits'].flatten(2).softmax(-1))
