"""Confidence-weighted squared error on root-aligned 3D joints."""
from typing import Sequence

from torch import Tensor, nn

from pointhmr_mm.registry import MODELS
from pointhmr_mm.utils.keypoints import MID_HIP


@MODELS.register_module()
class Keypoint3DMSELoss(nn.Module):
    """Squared error times joint confidence, averaged, after centring both
    prediction and GT on their mid-hip. Samples whose joints all have zero
    confidence are left out of the average (as released).

    Args:
        root_indices: Joints averaged to form the root (LSP-14 hips).
        loss_weight: Weight (released: 1000).
    """

    def __init__(self, root_indices: Sequence[int] = MID_HIP,
                 loss_weight: float = 1000.):
        super().__init__()
        self.root_indices = list(root_indices)
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, gt: Tensor) -> Tensor:
        """Args:
            pred: (B, J, 3) metres.
            gt: (B, J, 4) metres + confidence.

        Returns:
            Tensor: scalar; 0 when no sample has 3D joints.
        """
        if pred.shape[:2] != gt.shape[:2] or gt.shape[-1] != 4:
            raise ValueError(f'pred {tuple(pred.shape)} and gt '
                             f'{tuple(gt.shape)} must be (B, J, 3) and '
                             '(B, J, 4)')
        conf = gt[..., 3:]
        labelled = (conf > 0).flatten(1).any(dim=1)
        if not labelled.any():
            return pred.sum() * 0.
        pred, gt, conf = pred[labelled], gt[labelled, :, :3], conf[labelled]
        pred = pred - pred[:, self.root_indices].mean(dim=1, keepdim=True)
        gt = gt - gt[:, self.root_indices].mean(dim=1, keepdim=True)
        return self.loss_weight * (conf * (pred - gt)**2).mean()
