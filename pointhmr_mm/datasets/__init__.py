from . import transforms  # noqa: F401
from .base_mesh_dataset import BaseMeshDataset
from .human_data_dataset import HumanDataDataset
from .metro_tsv_dataset import MetroTSVDataset
from .mixed_dataset import MixedMeshDataset

__all__ = [
    'BaseMeshDataset', 'HumanDataDataset', 'MetroTSVDataset',
    'MixedMeshDataset'
]
