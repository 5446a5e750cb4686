from .smpl import SMPL, find_body_model_file, load_body_model_arrays

__all__ = ['SMPL', 'find_body_model_file', 'load_body_model_arrays']
