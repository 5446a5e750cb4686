from .mesh_targets import MeshTargets, freeze_as_constants

__all__ = ['MeshTargets', 'freeze_as_constants']
