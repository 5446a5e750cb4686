"""Confidence-weighted squared error on root-aligned 3D joints."""
from typing import Sequence

import torch
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
        # indexing with a device tensor, not a list (which is copied to
        # the device, a host synchronisation, at every call)
        self.register_buffer('root_index', torch.as_tensor(
            list(root_indices), dtype=torch.long), persistent=False)
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
        # A mask instead of boolean indexing or an early return: both read
        # it on the host, a device synchronisation on a GPU.
        labelled = (conf > 0).flatten(1).any(dim=1)[:, None, None]
        count = labelled.sum().clamp(min=1)
        gt = torch.where(labelled, gt[..., :3], pred.detach())
        root = self.root_index.to(pred.device)  # a no-op once moved
        pred = pred - pred[:, root].mean(dim=1, keepdim=True)
        gt = gt - gt[:, root].mean(dim=1, keepdim=True)
        # unlabelled samples: error 0 (and gradient 0, also for a NaN GT)
        err = torch.where(labelled, conf * (pred - gt)**2, 0.)
        return self.loss_weight * err.sum() / (count * err[0].numel())
