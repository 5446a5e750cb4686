"""Binary cross-entropy between vertex heatmaps and one-hot targets."""
import torch
from torch import Tensor, nn

from pointhmr_mm.registry import MODELS

# F.binary_cross_entropy clamps each log term at -100; kept for equality.
BCE_LOG_FLOOR = -100.


@MODELS.register_module()
class HeatmapBCELoss(nn.Module):
    """Mean BCE between softmax heatmaps and one-hot maps at the GT vertex
    pixels, computed from the target indices without building the one-hot
    maps (the released code indexes a 12544 x 12544 identity matrix).

    ``sum_p BCE(p, t) = -sum_p log(1 - p) + log(1 - p_t) - log(p_t)``.

    Args:
        loss_weight: Weight. Released: 10 (heatmap weight) x 1000 (BCE
            factor inside the heatmap loss) = 10000.
    """

    def __init__(self, loss_weight: float = 10000.):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, probs: Tensor, target_index: Tensor) -> Tensor:
        """Args:
            probs: (M, P) per-vertex probabilities over P pixels.
            target_index: (M,) long, the GT pixel of each row.

        Returns:
            Tensor: scalar mean over the M x P elements; 0 when M = 0.
        """
        if probs.shape[0] == 0:
            return probs.sum() * 0.
        log_not = torch.log1p(-probs).clamp(min=BCE_LOG_FLOOR)
        p_target = probs.gather(1, target_index[:, None])
        log_target = torch.log(p_target).clamp(min=BCE_LOG_FLOOR)
        log_not_target = log_not.gather(1, target_index[:, None])
        total = -log_not.sum() + (log_not_target - log_target).sum()
        return self.loss_weight * total / probs.numel()
