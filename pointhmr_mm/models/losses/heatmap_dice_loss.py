"""Dice loss between vertex heatmaps and one-hot targets."""
from torch import Tensor, nn

from pointhmr_mm.registry import MODELS
from .heatmap_bce_loss import target_terms


@MODELS.register_module()
class HeatmapDiceLoss(nn.Module):
    """The released heatmap dice, computed at the heatmap's own resolution.

    Released: mean over vertices of ``1 - (2 * sum(p * t) + 2 s) /
    (sum(p) + sum(t) + 2 s)`` on the ``upscale`` times nearest-upsampled
    softmax ``p`` and a one-hot ``t``. Each upsampled pixel holds ``q / k``
    (``k = upscale**2``, ``q`` the parent's probability on the map), so
    ``sum(p * t) = q_t / k`` and ``sum(p) = sum(q)``; ``sum(t) = 1``.

    Args:
        smooth: s (released: 1e-5).
        loss_weight: Weight (released: 10, the heatmap weight).
        upscale: Nearest upsampling factor of the released formulation (2);
            1 compares at the map's resolution.
    """

    def __init__(self, smooth: float = 1e-5, loss_weight: float = 10.,
                 upscale: int = 2):
        super().__init__()
        if upscale < 1:
            raise ValueError(f'upscale must be >= 1, got {upscale}')
        self.smooth = smooth
        self.loss_weight = loss_weight
        self.upscale = upscale

    def forward(self, probs: Tensor, target_index: Tensor) -> Tensor:
        """Args:
            probs: (M, P) per-vertex softmax over the P pixels of the map.
            target_index: (M,) long, the map pixel holding each target, or
                -1 for a row left out.

        Returns:
            Tensor: scalar, the mean over the rows kept; 0 when none is.
        """
        kept, intersection = target_terms(probs, target_index,
                                          self.upscale**2)
        # A one-hot target sums to 1 per row.
        union = probs.sum(dim=1) + 1.
        dice = 2 * (intersection + self.smooth) / (union + 2 * self.smooth)
        # the mean over the rows kept; 0 (attached to the graph) if none
        return self.loss_weight * ((1. - dice) * kept).sum() / \
            kept.sum().clamp(min=1)

    def extra_repr(self) -> str:
        return (f'smooth={self.smooth}, loss_weight={self.loss_weight}, '
                f'upscale={self.upscale}')
