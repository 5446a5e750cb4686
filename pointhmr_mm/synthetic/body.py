"""The bodies the generator draws: every gender an SMPL-format folder has,
their per-vertex part labels and random shapes.

The folder is the one ``write_embedded_body`` (or ``tools/make_body_model.py
--from anny``) writes: ``smpl/SMPL_{NEUTRAL,MALE,FEMALE}.{npz,pkl}``,
``J_regressor_h36m.npy`` and ``body_parts.npz``. Body frame: y up, z
forward, x the body's left, metres; the rest pose is the body's own (an
A-pose for Anny), which :mod:`.pose` measures.

Shape shorthand: N vertices, K shape components.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Union

import numpy as np
import torch

from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.models.body_models.smpl import find_body_model_file
from pointhmr_mm.utils.constants import GENDERS
from pointhmr_mm.utils.safe_pickle import load_npz

PathLike = Union[str, Path]
GENDER_CODES = dict(neutral='n', male='m', female='f')  # MMHuman3D's codes
SHAPE_COMPONENTS = 10
BETA_CLIP = 2.  # shape stays within 2 standard deviations
# Anny's shape space spans its phenotypes' full [0, 1] ranges, so its first
# component alone moves the height by ~0.3 m per unit beta (measured on the
# baked body: 1.83 m -> 1.53 m at beta_0 = 1). People's heights spread by
# ~0.07-0.1 m; a std of 0.4 on beta_0 gives ~0.12 m, the rest keep N(0, 1).
BETA_STD = (0.4, ) + (1., ) * (SHAPE_COMPONENTS - 1)
BODY_PARTS_FILE = 'body_parts.npz'
H36M_REGRESSOR_FILE = 'J_regressor_h36m.npy'
PART_KEYS = ('smpl24', 'smpl24_names', 'anny_uv', 'anny_uv_names')


@dataclass
class Body:
    """One gender's model with what the generator needs of it.

    Attributes:
        gender: 'neutral', 'male' or 'female'.
        model: The SMPL-format body (``h36m`` regressor attached).
        faces: (F, 3) int64 triangles.
        template: (N, 3) rest vertices at betas = 0, metres.
        rest_joints: (24, 3) SMPL joints of the rest pose at betas = 0.
    """
    gender: str
    model: SMPL
    faces: np.ndarray
    template: np.ndarray
    rest_joints: np.ndarray


def load_bodies(body_model_dir: PathLike) -> Dict[str, Body]:
    """All genders of the folder (the neutral one is required).

    Raises:
        FileNotFoundError: no neutral model or no H36M regressor.
    """
    body_model_dir = Path(body_model_dir)
    regressor = body_model_dir / H36M_REGRESSOR_FILE
    if not regressor.is_file():
        raise FileNotFoundError(f'{regressor}: no such file (the generator '
                                'labels joints with the H36M regressor)')
    bodies = {}
    for gender in GENDERS:
        try:
            find_body_model_file(body_model_dir, gender)
        except FileNotFoundError:
            if gender == 'neutral':
                raise
            continue  # this folder lacks that gender: not drawn
        model = SMPL(str(body_model_dir), gender=gender,
                     joint_regressors=dict(h36m=str(regressor)))
        with torch.no_grad():
            rest = model()
        bodies[gender] = Body(
            gender=gender, model=model, faces=model.faces.numpy(),
            template=model.v_template.double().numpy(),
            rest_joints=rest['joints'][0].double().numpy())
    return bodies


def load_body_parts(body_model_dir: PathLike, num_vertices: int
                    ) -> Dict[str, np.ndarray]:
    """Per-vertex part labels: ``smpl24`` (N,) SMPL part index with
    ``smpl24_names``, ``anny_uv`` (N,) UV segment with ``anny_uv_names``.

    Raises:
        FileNotFoundError: the folder has no ``body_parts.npz``.
        KeyError, ValueError: a key is missing or has the wrong length.
    """
    path = Path(body_model_dir) / BODY_PARTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no such file; the generator colours '
                                'bodies by part (write the folder with '
                                'write_embedded_body or tools/'
                                'make_body_model.py --from anny)')
    data = load_npz(path)
    missing = [k for k in PART_KEYS if k not in data]
    if missing:
        raise KeyError(f'{path}: no {missing} (has {sorted(data)})')
    parts = {k: np.asarray(data[k]) for k in PART_KEYS}
    for key in ('smpl24', 'anny_uv'):
        if parts[key].shape != (num_vertices, ):
            raise ValueError(f'{path}: "{key}" has shape {parts[key].shape}, '
                             f'the body has {num_vertices} vertices')
    parts['smpl24_names'] = [str(n) for n in parts['smpl24_names']]
    parts['anny_uv_names'] = [str(n) for n in parts['anny_uv_names']]
    return parts


def random_gender(rng: np.random.Generator, genders) -> str:
    """One of ``genders`` (a sequence), uniformly."""
    genders = list(genders)
    return genders[rng.integers(len(genders))]


def random_betas(rng: np.random.Generator) -> np.ndarray:
    """(K,) shape coefficients ~ N(0, BETA_STD), clipped to +-BETA_CLIP
    standard deviations."""
    std = np.asarray(BETA_STD)
    betas = np.clip(rng.normal(0., 1., SHAPE_COMPONENTS), -BETA_CLIP,
                    BETA_CLIP) * std
    return betas.astype(np.float32)
