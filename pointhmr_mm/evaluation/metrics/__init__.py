from .dump_mesh_results import DumpMeshResults
from .mesh_metric import MeshMetric

__all__ = ['DumpMeshResults', 'MeshMetric']
