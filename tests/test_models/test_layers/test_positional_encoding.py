import math

import torch

from pointhmr_mm.models.layers import sine_position_encoding


def reference_encoding(height, width, num_feats, temperature=10000.):
    """Element-by-element DETR formula, normalised coordinates."""
    out = torch.zeros(2 * num_feats, height, width)
    for i in range(height):
        for j in range(width):
            coords = ((i + 1) / (height + 1e-6) * 2 * math.pi,
                      (j + 1) / (width + 1e-6) * 2 * math.pi)
            for axis, c in enumerate(coords):
                for k in range(num_feats):
                    angle = c / temperature**(2 * (k // 2) / num_feats)
                    value = math.sin(angle) if k % 2 == 0 else math.cos(angle)
                    out[axis * num_feats + k, i, j] = value
    return out


def test_matches_reference_formula():
    pos = sine_position_encoding(3, 4, 6)
    assert pos.shape == (12, 3, 4)
    torch.testing.assert_close(pos, reference_encoding(3, 4, 6))


def test_y_features_come_first():
    pos = sine_position_encoding(5, 2, 4)
    # y features vary along rows only, x features along columns only
    assert torch.allclose(pos[:4, :, 0], pos[:4, :, 1])
    assert not torch.allclose(pos[4:, :, 0], pos[4:, :, 1])
