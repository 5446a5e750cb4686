from .mesh_visualization_hook import MeshVisualizationHook
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = [
    'MeshVisualizationHook', 'SafeCheckpointHook'
]
