"""The synthetic pinhole camera: projection and where the body is put.

Camera frame: x right, y down, z forward, metres; pixels: x right, y down,
the principal point at the image centre.
"""
import numpy as np

from pointhmr_mm.visualization.camera import perspective_to_screen

FOCAL_PER_SIDE = 1.4  # focal length over the image side (~40 deg FOV)
DEPTH_RANGE = (2.8, 5.0)  # metres from the camera to the pelvis
CENTRE_JITTER = 0.1  # of the image side, for the pelvis's projection
FIT_MARGIN = 0.02  # of the image side kept free around the body
FIT_GROWTH = 1.15  # depth factor per try while the body does not fit
MAX_FIT_TRIES = 8


class SyntheticCamera:
    """A square pinhole camera of ``image_size`` pixels a side."""

    def __init__(self, image_size: int):
        self.size = image_size
        self.focal = FOCAL_PER_SIDE * image_size

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) camera-frame metres -> (N, 2) pixels."""
        centre = (self.size / 2, ) * 2
        return perspective_to_screen(points, (self.focal, ) * 2,
                                     centre)[:, :2]

    def to_screen(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) camera frame -> (N, 3) pixels and depth (the renderer's
        screen convention)."""
        return np.concatenate([self.project(points), points[:, 2:]], axis=1)

    def place(self, verts: np.ndarray, pelvis: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        """(3,) translation putting the body at a random depth, near the
        image centre, moved back until the whole mesh is in view.

        Args:
            verts: (N, 3) posed vertices in the camera frame's axes.
            pelvis: (3,) the point that is placed.
        """
        depth = rng.uniform(*DEPTH_RANGE)
        shift = rng.uniform(-CENTRE_JITTER, CENTRE_JITTER, 2) * self.size
        margin = FIT_MARGIN * self.size
        for _ in range(MAX_FIT_TRIES):
            target = np.append(shift * depth / self.focal, depth)
            transl = target - pelvis
            xy = self.project(verts + transl)
            if xy.min() >= margin and xy.max() <= self.size - margin:
                break
            depth *= FIT_GROWTH
        return transl
