from . import transforms  # noqa: F401
from .base_mesh_dataset import BaseMeshDataset
from .bedlam_dataset import BedlamDataset
from .emdb_dataset import EMDBDataset
from .h36m_neuralannot_dataset import H36MNeuralAnnotDataset
from .human_data_dataset import HumanDataDataset
from .metro_tsv_dataset import MetroTSVDataset
from .mixed_dataset import MixedMeshDataset
from .pw3d_dataset import Pw3dDataset

__all__ = [
    'BedlamDataset', 'EMDBDataset', 'H36MNeuralAnnotDataset',
    'BaseMeshDataset', 'HumanDataDataset', 'MetroTSVDataset',
    'MixedMeshDataset', 'Pw3dDataset'
]
