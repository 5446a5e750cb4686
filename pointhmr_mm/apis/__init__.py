from .inference import inference_mesh, init_model

__all__ = ['inference_mesh', 'init_model']
