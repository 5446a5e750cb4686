"""Binary cross-entropy between vertex heatmaps and one-hot targets."""
import math

import torch
from torch import Tensor, nn

from pointhmr_mm.registry import MODELS

# F.binary_cross_entropy clamps each log term at -100; kept for equality.
BCE_LOG_FLOOR = -100.


class _SumLogNot(torch.autograd.Function):
    """``sum_m w_m sum_p clamp(log(1 - q_mp / k), -100)`` with one temporary
    (M, P) tensor in forward and one in backward instead of autograd's four
    kept ones (written by hand for the memory: this is the largest tensor
    of the loss, B x V x H x W). The row weights ``w`` (0 or 1) leave rows
    out without copying the others."""

    @staticmethod
    def forward(ctx, probs: Tensor, children: int,
                row_weights: Tensor) -> Tensor:
        ctx.save_for_backward(probs, row_weights)
        ctx.children = children
        logs = probs.mul(-1. / children).log1p_()
        return logs.clamp_(min=BCE_LOG_FLOOR).sum(dim=1).dot(row_weights)

    @staticmethod
    def backward(ctx, grad: Tensor):
        probs, row_weights = ctx.saved_tensors
        children = ctx.children
        # d/dq log(1 - q/k) = -1 / (k - q); zero where the clamp held
        not_child = probs.mul(-1. / children).add_(1.)
        clamped = not_child < math.exp(BCE_LOG_FLOOR)  # log(.) < floor
        out = not_child.mul_(-children).reciprocal_()
        out.masked_fill_(clamped, 0.).mul_((row_weights * grad)[:, None])
        return out, None, None


def _clamped_log(x: Tensor, log, finite_at: float) -> Tensor:
    """``max(log(x), -100)`` whose gradient is 0, not NaN, where the clamp
    holds (``log(0) = -inf`` times a zero gradient is NaN in autograd);
    ``finite_at`` is any input where ``log`` is finite."""
    with torch.no_grad():
        held = log(x) < BCE_LOG_FLOOR
    safe = log(x.masked_fill(held, finite_at))
    return safe.masked_fill(held, BCE_LOG_FLOOR)


def target_terms(probs: Tensor, target_index: Tensor, children: int):
    """Each row's weight (1 kept, 0 left out) and its target pixel's
    upsampled probability ``q_t / k``.

    Rows are left out by weight, not by boolean indexing, which would read
    the mask on the host (a device synchronisation on a GPU).

    Args:
        probs: (M, P).
        target_index: (M,) long, -1 for rows left out.
        children: k.

    Returns:
        tuple: (M,) weights in ``probs``' dtype, and (M,) ``q_t / k``
        (for a row left out, that of pixel 0: finite, weighted by 0).
    """
    if target_index.shape != probs.shape[:1]:
        raise ValueError(f'target_index has shape {tuple(target_index.shape)}'
                         f', expected ({probs.shape[0]},) for probs of shape '
                         f'{tuple(probs.shape)}')
    kept = (target_index >= 0).to(probs.dtype)
    # q / k is exact in floating point (k is a power of two or small).
    child = probs.gather(1, target_index.clamp(min=0)[:, None])[:, 0]
    return kept, child / children


@MODELS.register_module()
class HeatmapBCELoss(nn.Module):
    """The released heatmap BCE, computed at the heatmap's own resolution.

    The released loss upsamples the (H, W) logits ``upscale`` times
    (nearest), takes a softmax over the ``upscale**2 * H * W`` pixels and
    averages ``F.binary_cross_entropy`` against a one-hot map. After nearest
    upsampling each pixel's probability is exactly ``q / k`` with
    ``k = upscale**2`` and ``q`` its parent's softmax probability over the
    (H, W) map, so the sum over all upsampled pixels is

    ``-k * sum_parents log(1 - q / k) + log(1 - q_t / k) - log(q_t / k)``,

    with ``q_t`` the parent of the target pixel and every log clamped at
    -100 as ``F.binary_cross_entropy`` does. No upsampled map is built.

    Args:
        loss_weight: Weight. Released: 10 (heatmap weight) x 1000 (BCE
            factor inside the heatmap loss) = 10000.
        upscale: Nearest upsampling factor of the released formulation (2:
            56 px logits, 112 px loss); 1 compares at the map's resolution.
    """

    def __init__(self, loss_weight: float = 10000., upscale: int = 2):
        super().__init__()
        if upscale < 1:
            raise ValueError(f'upscale must be >= 1, got {upscale}')
        self.loss_weight = loss_weight
        self.upscale = upscale

    def forward(self, probs: Tensor, target_index: Tensor) -> Tensor:
        """Args:
            probs: (M, P) per-vertex softmax over the P = H * W pixels of
                the map itself (fp32 recommended).
            target_index: (M,) long, the pixel of the map (the parent of
                the upsampled target pixel) that holds each row's target,
                or -1 for a row left out (no label, or a target off the
                map). Rows are left out by weight, not copied out.

        Returns:
            Tensor: scalar, the mean over the M' x (k * P) upsampled
            elements of the M' rows kept; 0 when none is.
        """
        children = self.upscale**2
        kept, child_target = target_terms(probs, target_index, children)
        log_target = _clamped_log(child_target, torch.log, 1.)
        log_not_target = _clamped_log(-child_target, torch.log1p, 0.)
        total = (-children * _SumLogNot.apply(probs, children, kept) +
                 ((log_not_target - log_target) * kept).sum())
        # 0 (attached to the graph) when no row is kept
        return self.loss_weight * total / (
            kept.sum().clamp(min=1) * probs.shape[1] * children)

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}, upscale={self.upscale}'

