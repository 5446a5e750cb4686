from .heatmap_bce_loss import HeatmapBCELoss
from .heatmap_dice_loss import HeatmapDiceLoss
from .keypoint_2d_mse_loss import Keypoint2DMSELoss
from .keypoint_3d_mse_loss import Keypoint3DMSELoss
from .vertex_l1_loss import VertexL1Loss

__all__ = [
    'HeatmapBCELoss', 'HeatmapDiceLoss', 'Keypoint2DMSELoss',
    'Keypoint3DMSELoss', 'VertexL1Loss'
]
