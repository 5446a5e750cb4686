from .mesh_data_preprocessor import MeshDataPreprocessor, pack_sample_fields

__all__ = ['MeshDataPreprocessor', 'pack_sample_fields']
