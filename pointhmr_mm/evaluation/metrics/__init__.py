from .dump_mesh_results import DumpMeshResults
from .mesh_metric import MeshMetric
from .smpl_fit_metric import SMPLFitMetric

__all__ = ['DumpMeshResults', 'MeshMetric', 'SMPLFitMetric']
