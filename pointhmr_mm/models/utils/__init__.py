from .mesh_sampler import MeshSampler
from .mesh_sampler_builder import build_mesh_sampler
from .precision import full_precision, to_float
from .pretrained_if_exists import PretrainedIfExists
from .smpl_param_fitter import SMPLParamFitter

__all__ = ['MeshSampler', 'build_mesh_sampler', 'full_precision', 'to_float',
           'SMPLParamFitter', 'PretrainedIfExists']
