from .formatting import PackMeshInputs
from .loading import LoadMeshImage
from .mesh_transforms import (MeshAffineCrop, MeshPixelNoise,
                              MeshRandomAugParams, MeshRandomFlip,
                              camera_z_rotation, flip_keypoints,
                              flip_smpl_pose)

__all__ = [
    'PackMeshInputs', 'LoadMeshImage', 'MeshAffineCrop', 'MeshPixelNoise',
    'MeshRandomAugParams', 'MeshRandomFlip', 'camera_z_rotation',
    'flip_keypoints', 'flip_smpl_pose'
]
