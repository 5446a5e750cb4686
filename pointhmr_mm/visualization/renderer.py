"""A headless software rasteriser for meshes, in vectorised numpy.

Why by hand: pyrender's OSMesa path fails with PyPI's PyOpenGL and its EGL
path needs system libraries (root); nvdiffrast/pytorch3d need CUDA builds.
Drawing a few thousand triangles per frame with a z-buffer is small work
for numpy, runs on any CPU machine, and needs nothing beyond pip.

Screen convention: x right, y down, in pixels; pixel (i, j) covers
``[j, j + 1) x [i, i + 1)`` and is sampled at its centre ``(j + 0.5,
i + 0.5)``. Depth z grows away from the camera.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

DEFAULT_COLOR = (0.65, 0.74, 0.86)  # RGB in [0, 1]
# Candidate (face, pixel) pairs processed at once; bounds memory.
MAX_CANDIDATES = 4_000_000
EDGE_EPS = 1e-9


def perspective_to_screen(vertices: np.ndarray, focal: Sequence[float],
                          principal: Sequence[float]) -> np.ndarray:
    """Pinhole projection of camera-frame (N, 3) points (z > 0 forward) to
    screen (N, 3): pixels xy and depth z."""
    v = np.asarray(vertices, dtype=np.float64)
    z = v[:, 2]
    return np.stack([focal[0] * v[:, 0] / z + principal[0],
                     focal[1] * v[:, 1] / z + principal[1], z], axis=1)


def weak_perspective_to_screen(vertices: np.ndarray,
                               camera: Sequence[float],
                               crop_size: int = 224,
                               crop_to_image: Optional[np.ndarray] = None
                               ) -> np.ndarray:
    """Project with the model's camera ``x = s * (X_xy + t)`` in [-1, 1] of
    the crop, then to crop pixels and optionally through a (2, 3) affine
    from crop pixels to image pixels. Depth is X_z scaled like xy."""
    v = np.asarray(vertices, dtype=np.float64)
    s, tx, ty = (float(c) for c in camera)
    half = crop_size / 2.
    xy = (s * (v[:, :2] + np.array([tx, ty])) + 1.) * half
    z = s * v[:, 2] * half
    if crop_to_image is not None:
        affine = np.asarray(crop_to_image, dtype=np.float64)
        xy = xy @ affine[:, :2].T + affine[:, 2]
        z = z * np.sqrt(abs(np.linalg.det(affine[:, :2])))
    return np.concatenate([xy, z[:, None]], axis=1)


def side_view(vertices: np.ndarray, angle_deg: float = 90.) -> np.ndarray:
    """Rotate (N, 3) vertices about the vertical (y) axis through their
    centre."""
    v = np.asarray(vertices, dtype=np.float64)
    centre = v.mean(0)
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0],
                    [-np.sin(a), 0, np.cos(a)]])
    return (v - centre) @ rot.T + centre


class MeshRenderer:
    """Z-buffered, smooth-shaded rendering of triangle meshes.

    Args:
        image_size: (H, W) or one side.
        light_dir: Direction the light travels, screen frame (default: from
            the camera into the scene).
        ambient: Ambient light share.
        diffuse: Lambertian share.
    """

    def __init__(self, image_size: Union[int, Tuple[int, int]],
                 light_dir: Sequence[float] = (0., 0., 1.),
                 ambient: float = 0.35, diffuse: float = 0.65):
        if isinstance(image_size, int):
            image_size = (image_size, image_size)
        self.height, self.width = (int(s) for s in image_size)
        if self.height <= 0 or self.width <= 0:
            raise ValueError(f'image_size must be positive, got {image_size}')
        self.light_dir = np.asarray(light_dir, dtype=np.float64)
        self.ambient, self.diffuse = ambient, diffuse

    # ------------------------------------------------------------------ #
    def rasterize(self, vertices: np.ndarray, faces: np.ndarray
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per pixel: the visible face (-1 where empty), its barycentric
        weights (H, W, 3) and depth (+inf where empty)."""
        h, w = self.height, self.width
        depth = np.full(h * w, np.inf)
        face_id = np.full(h * w, -1, dtype=np.int64)
        bary = np.zeros((h * w, 3))
        tri = vertices[faces]  # (F, 3, 3)
        x0 = np.clip(np.ceil(tri[..., 0].min(1) - 0.5), 0, w)
        x1 = np.clip(np.floor(tri[..., 0].max(1) - 0.5), -1, w - 1)
        y0 = np.clip(np.ceil(tri[..., 1].min(1) - 0.5), 0, h)
        y1 = np.clip(np.floor(tri[..., 1].max(1) - 0.5), -1, h - 1)
        bw = (x1 - x0 + 1).astype(np.int64)
        bh = (y1 - y0 + 1).astype(np.int64)
        valid = (bw > 0) & (bh > 0) & np.isfinite(tri).all((1, 2))
        faces_idx = np.flatnonzero(valid)
        counts = (bw * bh)[faces_idx]
        start = 0
        while start < len(faces_idx):
            # a chunk of faces whose candidate pixels fit the budget
            cum = np.cumsum(counts[start:])
            stop = start + max(1, int(np.searchsorted(cum, MAX_CANDIDATES)))
            self._raster_chunk(tri, faces_idx[start:stop],
                               counts[start:stop], x0, y0, bw, depth,
                               face_id, bary)
            start = stop
        return (face_id.reshape(h, w), bary.reshape(h, w, 3),
                depth.reshape(h, w))

    def _raster_chunk(self, tri, fidx, counts, x0, y0, bw, depth, face_id,
                      bary):
        # enumerate every (face, bbox pixel) pair of the chunk
        owner = np.repeat(fidx, counts)
        local = np.arange(counts.sum()) - np.repeat(
            np.cumsum(counts) - counts, counts)
        px = x0[owner] + local % bw[owner]
        py = y0[owner] + local // bw[owner]
        cx, cy = px + 0.5, py + 0.5
        a, b, c = tri[owner, 0], tri[owner, 1], tri[owner, 2]
        area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - \
            (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        w0 = (b[:, 0] - cx) * (c[:, 1] - cy) - (b[:, 1] - cy) * (c[:, 0] - cx)
        w1 = (c[:, 0] - cx) * (a[:, 1] - cy) - (c[:, 1] - cy) * (a[:, 0] - cx)
        w2 = area - w0 - w1
        ok = np.abs(area) > EDGE_EPS
        safe = np.where(ok, area, 1.)
        w = np.stack([w0, w1, w2], 1) / safe[:, None]
        inside = ok & (w >= -EDGE_EPS).all(1)
        w, owner = w[inside], owner[inside]
        pix = (py * self.width + px).astype(np.int64)[inside]
        z = (w * np.stack([a[inside, 2], b[inside, 2], c[inside, 2]], 1)).sum(1)
        # nearest candidate per pixel, then keep it if it beats the buffer
        order = np.lexsort((z, pix))
        pix, z, w, owner = pix[order], z[order], w[order], owner[order]
        first = np.ones(len(pix), dtype=bool)
        first[1:] = pix[1:] != pix[:-1]
        pix, z, w, owner = pix[first], z[first], w[first], owner[first]
        win = z < depth[pix]
        depth[pix[win]] = z[win]
        face_id[pix[win]] = owner[win]
        bary[pix[win]] = w[win]

    # ------------------------------------------------------------------ #
    def render(self,
               vertices: Union[np.ndarray, Sequence[np.ndarray]],
               faces: Union[np.ndarray, Sequence[np.ndarray]],
               image: Optional[np.ndarray] = None,
               color: Sequence[float] = DEFAULT_COLOR,
               light_dir: Optional[Sequence[float]] = None,
               alpha: float = 1.0) -> Dict[str, np.ndarray]:
        """Draw one or several meshes, z-buffered together.

        Args:
            vertices: (N, 3) screen coordinates, or a list of them.
            faces: (F, 3) indices, or one array per mesh.
            image: Optional (H, W, 3) BGR uint8 background.
            color: RGB in [0, 1], one for all meshes.
            light_dir: Overrides the renderer's light direction.
            alpha: Opacity of the mesh over the background.

        Returns:
            dict: ``image`` (H, W, 3) BGR uint8, ``mask`` (H, W) bool,
            ``depth`` (H, W) with +inf where empty.
        """
        if isinstance(vertices, np.ndarray) and vertices.ndim == 2:
            vertices, faces = [vertices], [faces]
        elif isinstance(faces, np.ndarray) and faces.ndim == 2:
            faces = [faces] * len(vertices)
        all_v, all_f, offset = [], [], 0
        for v, f in zip(vertices, faces):
            v = np.asarray(v, dtype=np.float64).reshape(-1, 3)
            all_v.append(v)
            all_f.append(np.asarray(f, dtype=np.int64).reshape(-1, 3) +
                         offset)
            offset += len(v)
        verts = np.concatenate(all_v) if all_v else np.zeros((0, 3))
        tris = np.concatenate(all_f) if all_f else np.zeros((0, 3), np.int64)
        if image is None:
            out = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        else:
            if image.shape[:2] != (self.height, self.width):
                raise ValueError(f'background is {image.shape[:2]}, the '
                                 f'renderer draws {(self.height, self.width)}')
            out = image.copy()
        face_id, bary, depth = self.rasterize(verts, tris)
        mask = face_id >= 0
        if mask.any():
            shade = self._shade(verts, tris, face_id[mask], bary[mask],
                                light_dir)
            bgr = np.asarray(color, dtype=np.float64)[::-1] * 255.
            drawn = shade[:, None] * bgr
            out[mask] = np.clip(alpha * drawn + (1 - alpha) * out[mask], 0,
                                255).astype(np.uint8)
        return dict(image=out, mask=mask, depth=depth)

    def _shade(self, verts, tris, faces_hit, weights, light_dir):
        """Lambert + ambient with interpolated vertex normals, each turned
        to face the viewer (so winding order does not matter)."""
        tri = verts[tris]
        face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        vert_n = np.zeros_like(verts)
        for k in range(3):
            np.add.at(vert_n, tris[:, k], face_n)
        normals = (weights[..., None] * vert_n[tris[faces_hit]]).sum(1)
        normals /= np.maximum(np.linalg.norm(normals, axis=1,
                                             keepdims=True), 1e-12)
        normals *= np.where(normals[:, 2:] > 0, -1., 1.)  # face the camera
        light = np.asarray(self.light_dir if light_dir is None else light_dir,
                           dtype=np.float64)
        light = light / np.linalg.norm(light)
        return self.ambient + self.diffuse * np.clip(-normals @ light, 0, 1)
