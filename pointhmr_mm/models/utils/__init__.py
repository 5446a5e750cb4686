from .mesh_sampler import MeshSampler
from .mesh_sampler_builder import build_mesh_sampler

__all__ = ['MeshSampler', 'build_mesh_sampler']
