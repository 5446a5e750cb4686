from .mesh_visualization_hook import MeshVisualizationHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .set_epoch_hook import DatasetSetEpochHook

__all__ = [
    'DatasetSetEpochHook', 'MeshVisualizationHook', 'SafeCheckpointHook'
]
