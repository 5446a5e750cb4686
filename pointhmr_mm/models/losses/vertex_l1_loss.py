"""L1 loss on the mesh at every level of the hierarchy."""
from typing import Sequence

import torch
from torch import Tensor, nn

from pointhmr_mm.registry import MODELS


@MODELS.register_module()
class VertexL1Loss(nn.Module):
    """Weighted sum over mesh levels of the mean L1 vertex error, over the
    samples that have SMPL labels.

    Args:
        level_weights: Weight of each level, coarse to full (released:
            0.33 each for 431, 1723 and 6890 vertices).
        loss_weight: Overall weight (released: 100).
    """

    def __init__(self, level_weights: Sequence[float] = (0.33, 0.33, 0.33),
                 loss_weight: float = 100.):
        super().__init__()
        self.level_weights = tuple(level_weights)
        self.loss_weight = loss_weight

    def forward(self, pred: Sequence[Tensor], gt: Sequence[Tensor],
                has_smpl: Tensor) -> Tensor:
        """Args:
            pred: Per level (B, n_l, 3) predicted vertices, coarse to full.
            gt: Per level (B, n_l, 3) GT vertices, same frame as ``pred``.
            has_smpl: (B,) 1 where the sample has SMPL labels.

        Returns:
            Tensor: scalar; 0 (still attached to the graph) when no sample
            has labels.
        """
        if not len(pred) == len(gt) == len(self.level_weights):
            raise ValueError(f'expected {len(self.level_weights)} mesh levels '
                             f'(level_weights), got {len(pred)} predicted and '
                             f'{len(gt)} GT')
        # Masks instead of boolean indexing or an early return: both read
        # the mask on the host, a device synchronisation on a GPU.
        labelled = (has_smpl > 0)[:, None, None]
        count = labelled.sum().clamp(min=1)
        total = pred[0].sum() * 0.
        for weight, p, g in zip(self.level_weights, pred, gt):
            # unlabelled rows: error 0 (and gradient 0, also for a NaN GT)
            err = torch.abs(p - torch.where(labelled, g, p.detach()))
            total = total + weight * err.sum() / (count * err[0].numel())
        return self.loss_weight * total
