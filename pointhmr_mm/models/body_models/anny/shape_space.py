"""SMPL-style shape space of Anny: PCA of reference meshes.

Shape shorthand: S sampled shapes, N vertices, K components.
"""
from typing import Tuple

import numpy as np

from pointhmr_mm.utils.constants import NUM_BETAS

SIGN_SEED = 0  # of the vector that fixes each direction's sign


def shape_space(samples: np.ndarray, template: np.ndarray,
                num_betas: int = NUM_BETAS) -> Tuple[np.ndarray, np.ndarray,
                                                     float]:
    """Principal directions of the samples about the template.

    The directions are scaled so that the samples' betas have unit mean
    square about the template (SMPL's unit variance, as the template sits
    inside the sampled phenotypes), and signed so that each direction's largest
    entry is positive (reproducible across runs and machines).

    Args:
        samples: (S, N, 3) meshes of sampled phenotypes, same pose.
        template: (N, 3) the mesh at betas = 0.
        num_betas: K.

    Returns:
        tuple: ``shapedirs`` (N, 3, K) metres per unit beta, ``betas``
        (S, K) of the samples, and the fraction of the variance about the
        template that the K directions explain.
    """
    if samples.ndim != 3 or samples.shape[1:] != template.shape:
        raise ValueError(f'samples must be (S, {template.shape[0]}, 3), got '
                         f'{samples.shape}')
    if len(samples) <= num_betas:
        raise ValueError(f'{len(samples)} samples cannot give {num_betas} '
                         'shape directions')
    offsets = (samples - template).reshape(len(samples), -1)
    # SVD through the (S, S) Gram matrix: S is a few hundred, 3N ~ 20k
    eigval, left = np.linalg.eigh(offsets @ offsets.T)
    order = np.argsort(eigval)[::-1][:num_betas]
    sigma = np.sqrt(np.maximum(eigval[order], 0.))
    left = left[:, order]
    right = (left.T @ offsets) / sigma[:, None]
    anchor = np.random.default_rng(SIGN_SEED).standard_normal(right.shape[1])
    sign = np.where(right @ anchor < 0, -1., 1.)
    left, right = left * sign, right * sign[:, None]
    std = sigma / np.sqrt(len(samples))
    shapedirs = (right * std[:, None]).T.reshape(*template.shape, num_betas)
    explained = float((sigma**2).sum() / (offsets**2).sum())
    return shapedirs, left * np.sqrt(len(samples)), explained
