from .inference import inference_mesh, init_model, load_bbox_file
from .mesh_inferencer import MeshInferencer
from .smpl_export import load_smpl_params, save_smpl_params

__all__ = [
    'MeshInferencer', 'inference_mesh', 'init_model', 'load_bbox_file',
    'load_smpl_params', 'save_smpl_params'
]
