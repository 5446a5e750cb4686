"""Dropout whose CPU mask and its application cost a fraction of torch's.

On PointHMR's (B, heads, L, L) attention weights (3.9 M elements at
batch 4) torch's CPU dropout was a fifth of a checkpointed W32 bf16
training step on a 2-core Xeon: ``bernoulli_`` draws one Mersenne-Twister
number per element (23 ms), and the boolean mask is applied by
``masked_fill``, whose CPU kernel is not vectorised (3.4 ms, against
0.5 ms for a multiplication by a {0, 1} tensor of the same dtype; measured
with 2 threads, AMX Xeon). Here:

* the random bits come from NumPy's SFC64 generator, which fills 64 bits
  per step (1.7 ms for the mask above, against 4.1 ms for torch's
  ``random_()`` on int64). Its seed is drawn from torch's default CPU
  generator, so ``torch.manual_seed`` fixes the masks and activation
  checkpointing, which restores torch's RNG state, replays them;
* every 16-bit lane of the 64-bit words is one element, so the drop
  probability is rounded to a multiple of 2**-16 (0.1 -> 0.100006); kept
  values are scaled by exactly 1 / (1 - that), so the expectation is
  unchanged;
* the mask is a {0, 1} tensor in the input's dtype and dropout is a
  multiplication by it, also in backward.

On other devices (CUDA's fused Philox dropout is fast) and in eval mode
this is ``F.dropout``. Written by hand because neither torch nor a
library offers a fast CPU dropout.
"""
from typing import Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

LANE_VALUES = 2**16  # values of one 16-bit lane
LANES_PER_WORD = 4  # 16-bit lanes of a 64-bit word


def keep_mask(shape: Sequence[int], p: float,
              dtype: torch.dtype = torch.float32) -> Tuple[Tensor, float]:
    """A CPU tensor of ``shape`` and ``dtype``: 0 (drop) with probability
    ``p_q``, else 1; and ``p_q``, ``p`` rounded to a multiple of 2**-16
    (at most 1 - 2**-16).

    Args:
        shape: Mask shape.
        p: Drop probability in [0, 1).
        dtype: The mask's dtype, that of the tensor it multiplies.
    """
    num = 1
    for size in shape:
        num *= size
    drops = min(round(p * LANE_VALUES), LANE_VALUES - 1)
    if drops == 0:
        return torch.ones(tuple(shape), dtype=dtype), 0.
    # a seed from torch's generator (see the module docstring)
    seed = int(torch.empty((), dtype=torch.int64).random_())
    words = np.random.SFC64(seed).random_raw(-(-num // LANES_PER_WORD))
    lanes = torch.from_numpy(words.view(np.int16)[:num])
    # int16 lanes are uniform in [-2**15, 2**15): drop where below the
    # threshold. clamp + sub makes the {0, 1} mask in two vectorised
    # passes (a comparison to bool and its cast are slower).
    threshold = drops - LANE_VALUES // 2
    keep = lanes.clamp(threshold - 1, threshold).sub_(threshold - 1)
    return keep.to(dtype).view(tuple(shape)), drops / LANE_VALUES


class _KeepScale(torch.autograd.Function):
    """``x * keep * scale``; only ``keep`` is saved for backward."""

    @staticmethod
    def forward(ctx, x: Tensor, keep: Tensor, scale: float) -> Tensor:
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return x.mul(keep).mul_(scale)

    @staticmethod
    def backward(ctx, grad: Tensor):
        keep, = ctx.saved_tensors
        return grad.mul(keep).mul_(ctx.scale), None, None


def fast_dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """``F.dropout(x, p, training)`` with the cheaper CPU mask."""
    if not 0. <= p < 1.:
        raise ValueError(f'dropout probability must be in [0, 1), got {p}')
    if not training or p == 0. or x.device.type != 'cpu':
        return F.dropout(x, p, training)
    keep, p_q = keep_mask(x.shape, p, x.dtype)
    return _KeepScale.apply(x, keep, 1. / (1. - p_q))


class FastDropout(nn.Dropout):
    """``nn.Dropout`` through :func:`fast_dropout` (no parameters, so the
    state dict is unchanged)."""

    def forward(self, x: Tensor) -> Tensor:
        return fast_dropout(x, self.p, self.training)
