from .mesh_visualization_hook import MeshVisualizationHook

__all__ = ['MeshVisualizationHook']
