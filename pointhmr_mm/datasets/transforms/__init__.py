from .formatting import PackMeshInputs
from .loading import LoadMeshImage
from .mesh_transforms import (MeshAffineCrop, MeshPixelNoise,
                              MeshRandomAugParams, MeshRandomFlip,
                              flip_smpl_pose)

__all__ = [
    'PackMeshInputs', 'LoadMeshImage', 'MeshAffineCrop', 'MeshPixelNoise',
    'MeshRandomAugParams', 'MeshRandomFlip', 'flip_smpl_pose'
]
