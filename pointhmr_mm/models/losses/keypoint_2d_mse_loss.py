"""Confidence-weighted squared error on 2D joints."""
from torch import Tensor, nn

from pointhmr_mm.registry import MODELS


@MODELS.register_module()
class Keypoint2DMSELoss(nn.Module):
    """Squared error times confidence, averaged over every sample and joint
    (unlabelled joints have confidence 0 and add nothing), as released.

    Args:
        loss_weight: Weight (released: 100).
    """

    def __init__(self, loss_weight: float = 100.):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, gt: Tensor) -> Tensor:
        """Args:
            pred: (B, J, 2) projected joints in [-1, 1] crop coordinates.
            gt: (B, J, 3) GT in the same coordinates + confidence.

        Returns:
            Tensor: scalar.
        """
        if pred.shape[:2] != gt.shape[:2] or gt.shape[-1] != 3:
            raise ValueError(f'pred {tuple(pred.shape)} and gt '
                             f'{tuple(gt.shape)} must be (B, J, 2) and '
                             '(B, J, 3)')
        conf = gt[..., 2:]
        return self.loss_weight * (conf * (pred - gt[..., :2])**2).mean()
