from .inference import inference_mesh, init_model, load_bbox_file
from .mesh_inferencer import MeshInferencer

__all__ = ['MeshInferencer', 'inference_mesh', 'init_model', 'load_bbox_file']
