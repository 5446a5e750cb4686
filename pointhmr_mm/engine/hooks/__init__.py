from .mesh_visualization_hook import MeshVisualizationHook
from .preserve_train_rng_hook import PreserveTrainRNGHook
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = [
    'MeshVisualizationHook', 'PreserveTrainRNGHook', 'SafeCheckpointHook'
]
