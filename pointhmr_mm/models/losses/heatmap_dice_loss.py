"""Dice loss between vertex heatmaps and one-hot targets."""
from torch import Tensor, nn

from pointhmr_mm.registry import MODELS


@MODELS.register_module()
class HeatmapDiceLoss(nn.Module):
    """Mean over vertices of ``1 - (2 * sum(p * t) + 2 s) / (sum(p) +
    sum(t) + 2 s)`` with one-hot ``t``, from target indices.

    Args:
        smooth: s (released: 1e-5).
        loss_weight: Weight (released: 10, the heatmap weight).
    """

    def __init__(self, smooth: float = 1e-5, loss_weight: float = 10.):
        super().__init__()
        self.smooth = smooth
        self.loss_weight = loss_weight

    def forward(self, probs: Tensor, target_index: Tensor) -> Tensor:
        """Args:
            probs: (M, P) per-vertex probabilities over P pixels.
            target_index: (M,) long, the GT pixel of each row.

        Returns:
            Tensor: scalar; 0 when M = 0.
        """
        if probs.shape[0] == 0:
            return probs.sum() * 0.
        intersection = probs.gather(1, target_index[:, None]).squeeze(1)
        # A one-hot target sums to 1 per row.
        union = probs.sum(dim=1) + 1.
        dice = 2 * (intersection + self.smooth) / (union + 2 * self.smooth)
        return self.loss_weight * (1. - dice).mean()
