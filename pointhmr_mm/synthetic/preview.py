"""A grid of generated samples, to look at what a setting produces."""
from pathlib import Path
from typing import Union

import cv2
import numpy as np

from .render import SyntheticRenderer

PathLike = Union[str, Path]
LABEL_SCALE = 0.0025  # font scale per pixel of tile side
LABEL_COLOUR = (255, 255, 255)
GRID_JPEG_QUALITY = 90


def sample_grid(body_model_dir: PathLike, out_file: PathLike,
                rows: int = 3, cols: int = 6, image_size: int = 192,
                seed: int = 0, **scene) -> Path:
    """Render ``rows x cols`` samples (sample ``i`` from ``(seed, i)``, as
    :func:`.writer.write_split` draws them) into one JPEG, each tile
    labelled with the body's gender code (n, m, f).

    Returns:
        Path: ``out_file``.
    """
    if rows < 1 or cols < 1:
        raise ValueError(f'rows and cols must be >= 1, got {rows}, {cols}')
    maker = SyntheticRenderer(body_model_dir, image_size, **scene)
    tiles = []
    for i in range(rows * cols):
        rec = maker.sample(np.random.default_rng([seed, i]))
        tile = np.ascontiguousarray(rec['image'])
        scale = LABEL_SCALE * image_size
        cv2.putText(tile, rec['gender'], (int(8 * scale), int(30 * scale)),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, LABEL_COLOUR,
                    max(1, int(2 * scale)), cv2.LINE_AA)
        tiles.append(tile)
    grid = np.vstack([np.hstack(tiles[r * cols:(r + 1) * cols])
                      for r in range(rows)])
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out_file), grid,
                       [cv2.IMWRITE_JPEG_QUALITY, GRID_JPEG_QUALITY]):
        raise OSError(f'could not write {out_file}')
    return out_file
