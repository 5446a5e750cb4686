"""Backgrounds and lighting of a synthetic image, and the checked scene
settings a split is made with."""
from typing import Sequence

import cv2
import numpy as np

AMBIENT_RANGE, DIFFUSE_RANGE = (0.15, 0.5), (0.4, 0.9)
LIGHT_COLOUR_RANGE = (0.6, 1.)
LIGHT_DEPTH_RANGE = (0.3, 1.)  # z of the light direction: from the camera
# How many shapes and lines clutter a background, inclusive range. Thin
# lines and limb-sized bars are hard distractors: a small network trained
# from scratch on a few hundred steps learns much faster with fewer (the
# quick start uses fewer).
BACKGROUND_SHAPES = (2, 8)
BLUR_PROB, BLUR_SIGMA = 0.3, (0.5, 3.)  # out-of-focus backgrounds
NOISE_STD = (1., 10.)  # sensor-like noise, grey levels
MAX_LINE_WIDTH = 6
NUM_SHAPE_KINDS = 3  # rectangle, disc, line


def random_background(rng: np.random.Generator, size: int,
                      shapes: Sequence[int] = BACKGROUND_SHAPES
                      ) -> np.ndarray:
    """(size, size, 3) BGR uint8: a two-colour gradient in a random
    direction, ``shapes[0]`` to ``shapes[1]`` filled shapes and lines,
    sometimes blurred, plus sensor-like noise."""
    c0, c1 = rng.uniform(0, 255, (2, 1, 1, 3))
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    t = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None]
    t = (t - t.min()) / max(np.ptp(t), 1e-6)
    img = np.ascontiguousarray((c0 * (1 - t) + c1 * t).astype(np.uint8))
    for _ in range(rng.integers(shapes[0], shapes[1] + 1)):
        colour = tuple(int(c) for c in rng.uniform(0, 255, 3))
        p, q = (tuple(int(v) for v in rng.integers(0, size, 2))
                for _ in range(2))
        kind = rng.integers(NUM_SHAPE_KINDS)
        if kind == 0:
            cv2.rectangle(img, p, q, colour, -1)
        elif kind == 1:
            cv2.circle(img, p, int(rng.integers(2, max(3, size // 4))),
                       colour, -1)
        else:
            cv2.line(img, p, q, colour,
                     int(rng.integers(1, MAX_LINE_WIDTH)))
    if rng.random() < BLUR_PROB:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(*BLUR_SIGMA))
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    noisy = img + noise * np.float32(rng.uniform(*NOISE_STD))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def random_lighting(rng: np.random.Generator) -> dict:
    """Ambient and diffuse intensities, a light direction from the
    camera's side of the body (camera frame) and a light colour: keyword
    arguments of :class:`~pointhmr_mm.visualization.MeshRenderer`."""
    light = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1),
                      rng.uniform(*LIGHT_DEPTH_RANGE)])
    return dict(ambient=rng.uniform(*AMBIENT_RANGE),
                diffuse=rng.uniform(*DIFFUSE_RANGE),
                light_dir=tuple(light),
                light_color=tuple(rng.uniform(*LIGHT_COLOUR_RANGE, 3)))


def scene_settings(max_heading_deg: float = 180.,
                   background_shapes: Sequence[int] = BACKGROUND_SHAPES
                   ) -> dict:
    """Checked, JSON-like scene settings (see
    :class:`~pointhmr_mm.synthetic.SyntheticRenderer`).

    Raises:
        ValueError: ``background_shapes`` is not (min, max) with
            0 <= min <= max, or ``max_heading_deg`` is outside [0, 180].
    """
    shapes = [int(n) for n in background_shapes]
    if len(shapes) != 2 or not 0 <= shapes[0] <= shapes[1]:
        raise ValueError('background_shapes must be (min, max) with '
                         f'0 <= min <= max, got {background_shapes!r}')
    if not 0 <= max_heading_deg <= 180:
        raise ValueError('max_heading_deg must be in [0, 180], got '
                         f'{max_heading_deg!r}')
    return dict(max_heading_deg=float(max_heading_deg),
                background_shapes=shapes)
