from .masked_mesh_transformer_head import MaskedMeshTransformerHead

__all__ = ['MaskedMeshTransformerHead']
