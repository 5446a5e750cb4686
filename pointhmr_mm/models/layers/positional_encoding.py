"""Fixed 2D sine position encoding (DETR style) for feature maps.

Written by hand because mmcv 2.x has no sine encoding and pulling mmdet in
for one function is not worth the dependency; the maths is small and pinned
by tests.
"""
import math

import torch
from torch import Tensor

DEFAULT_TEMPERATURE = 10000.
DEFAULT_SCALE = 2 * math.pi
# Keeps the normalised coordinate of the last row/column just below `scale`.
NORMALISE_EPS = 1e-6


def sine_position_encoding(height: int,
                           width: int,
                           num_feats: int,
                           temperature: float = DEFAULT_TEMPERATURE,
                           scale: float = DEFAULT_SCALE,
                           device=None,
                           dtype=torch.float32) -> Tensor:
    """Normalised 2D sine encoding of a ``height x width`` grid.

    Coordinates run 1..H and 1..W, are normalised to ``(0, scale]`` and each
    is expanded into ``num_feats`` interleaved sin/cos features.

    Args:
        height: Rows of the grid.
        width: Columns of the grid.
        num_feats: Features per axis; the output has ``2 * num_feats``
            channels, the y features first, then the x features.
        temperature: Wavelength base.
        scale: Range of the normalised coordinates.
        device: Device of the result.
        dtype: Dtype of the result.

    Returns:
        Tensor: (2 * num_feats, height, width).
    """
    y = torch.arange(1, height + 1, device=device, dtype=torch.float32)
    x = torch.arange(1, width + 1, device=device, dtype=torch.float32)
    y = y / (height + NORMALISE_EPS) * scale
    x = x / (width + NORMALISE_EPS) * scale
    dim_t = torch.arange(num_feats, device=device, dtype=torch.float32)
    dim_t = temperature**(2 * torch.div(dim_t, 2, rounding_mode='floor') /
                          num_feats)

    def encode(coord: Tensor) -> Tensor:
        # (L,) -> (L, num_feats) with sin on even and cos on odd features
        angles = coord[:, None] / dim_t
        return torch.stack((angles[:, 0::2].sin(), angles[:, 1::2].cos()),
                           dim=2).flatten(1)

    pos_y = encode(y)[:, None, :].expand(height, width, num_feats)
    pos_x = encode(x)[None, :, :].expand(height, width, num_feats)
    # (H, W, 2F) -> (2F, H, W)
    pos = torch.cat((pos_y, pos_x), dim=2).permute(2, 0, 1)
    return pos.to(dtype).contiguous()
