"""A headless software z-buffer renderer for triangle meshes, in numpy.

Why by hand: the project must render on CPU-only and GPU machines with
nothing beyond pip. pyrender's OSMesa path fails with PyPI's PyOpenGL and
its EGL path needs system libraries (root); nvdiffrast and pytorch3d need
CUDA builds; trimesh's own renderers need a display. Drawing ~14k triangles
with a depth buffer is modest work for vectorised numpy.

Screen convention (see :mod:`.camera` for the projections into it): x
right, y down, in pixels; pixel ``(i, j)`` covers ``[j, j + 1) x [i, i +
1)`` and is drawn when its centre ``(j + 0.5, i + 0.5)`` lies in a
triangle (edges included). z is depth, larger is farther.

Shape shorthand: N vertices, F faces, H x W image, P candidate
(face, pixel) pairs.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

from .camera import (_as_points, perspective_to_screen, side_view,
                     weak_perspective_to_screen)

__all__ = [
    'MeshRenderer', 'rasterize', 'perspective_to_screen',
    'weak_perspective_to_screen', 'side_view'
]

DEFAULT_COLOR = (0.65, 0.74, 0.86)  # RGB in [0, 1], a light blue
# (face, pixel) candidates handled at once: bounds memory (~100 B each).
MAX_CANDIDATES = 2_000_000
# Faces with a smaller screen area (px^2, doubled) are edge-on: skipped.
MIN_DOUBLE_AREA = 1e-10
# Barycentric slack so that pixel centres on a shared edge are not lost to
# float32 rounding (a 1e-5 share of a triangle is far below a pixel).
EDGE_EPS = 1e-5

ArrayList = Union[np.ndarray, Sequence[np.ndarray]]


def _plane_coefficients(tri: np.ndarray) -> np.ndarray:
    """Per face, barycentric weights and depth as affine functions of the
    pixel centre: ``[w0, w1, w2, z] = M @ [x, y, 1]``.

    Args:
        tri: (F, 3, 3) screen-space corners.

    Returns:
        np.ndarray: (F, 4, 3) matrices M; NaN rows for edge-on faces.
    """
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    coef = np.empty((len(tri), 4, 3))
    # weight of a corner = edge function of the opposite edge / area
    for k, (u, v) in enumerate(((b, c), (c, a), (a, b))):
        coef[:, k, 0] = u[:, 1] - v[:, 1]
        coef[:, k, 1] = v[:, 0] - u[:, 0]
        coef[:, k, 2] = u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]
    area = coef[:, :3, 2].sum(1)  # twice the signed area
    flat = np.abs(area) <= MIN_DOUBLE_AREA
    coef[:, :3] /= np.where(flat, np.nan, area)[:, None, None]
    coef[:, 3] = np.einsum('fk,fkc->fc', tri[..., 2], coef[:, :3])
    return coef


def _face_boxes(tri: np.ndarray, height: int, width: int):
    """First pixel column/row and pixel-box size of each face, clipped to
    the image; empty or non-finite faces get size 0."""
    # pixel j is covered when lo <= j + 0.5 <= hi
    lo = np.ceil(np.nan_to_num(tri[..., :2].min(1), nan=np.inf) - 0.5)
    hi = np.floor(np.nan_to_num(tri[..., :2].max(1), nan=-np.inf) - 0.5)
    limit = np.array([width - 1, height - 1])
    lo = np.clip(lo, 0, limit + 1)
    hi = np.clip(hi, -1, limit)
    size = np.maximum(hi - lo + 1, 0).astype(np.int64)
    size[~np.isfinite(tri).all((1, 2))] = 0
    return lo.astype(np.int64), size


def _box_planes(coef: np.ndarray, lo: np.ndarray) -> Tuple[np.ndarray, ...]:
    """Re-base each face's planes on its box: value at the first pixel
    centre and steps per column and per row, each (F, 4) float32 (half the
    memory traffic of float64; weights and depth need ~1e-6 precision)."""
    centre = lo + 0.5
    origin = coef[..., 0] * centre[:, :1] + coef[..., 1] * centre[:, 1:] + \
        coef[..., 2]
    return tuple(np.ascontiguousarray(a, dtype=np.float32)
                 for a in (origin, coef[..., 0], coef[..., 1]))


def _raster_chunk(planes, faces, counts, lo, box_w, width, buffers):
    """z-test one chunk of faces against the flat buffers, in place."""
    depth, face_id = buffers
    origin, step_x, step_y = planes
    # every (face, box pixel) pair, by index arithmetic on the box sizes
    owner = np.repeat(faces, counts)  # (P, )
    first = np.cumsum(counts) - counts
    local = np.arange(owner.size) - np.repeat(first, counts)
    row, col = np.divmod(local, box_w[owner])
    wz = np.take(origin, owner, 0) + \
        np.take(step_x, owner, 0) * col[:, None].astype(np.float32) + \
        np.take(step_y, owner, 0) * row[:, None].astype(np.float32)
    inside = (wz[:, 0] >= -EDGE_EPS) & (wz[:, 1] >= -EDGE_EPS) & \
        (wz[:, 2] >= -EDGE_EPS)  # NaN (edge-on faces) compares False
    pix = ((lo[owner, 1] + row) * width + lo[owner, 0] + col)[inside]
    z, owner = wz[inside, 3].astype(np.float64), owner[inside]
    # unbuffered per-pixel minimum; then the candidates that hold it win
    # (among exact ties the one written last)
    np.minimum.at(depth, pix, z)
    win = z == depth[pix]
    face_id[pix[win]] = owner[win]


def rasterize(vertices: np.ndarray, faces: np.ndarray, height: int,
              width: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visible face, barycentric weights and depth of every pixel.

    Args:
        vertices: (N, 3) screen coordinates; NaN vertices hide their faces.
        faces: (F, 3) int indices into ``vertices``.
        height: H.
        width: W.

    Returns:
        tuple: ``face_id`` (H, W) int64, -1 where empty; ``bary`` (H, W, 3)
        weights of the visible face's corners (0 where empty); ``depth``
        (H, W) float64, +inf where empty.
    """
    depth = np.full(height * width, np.inf)
    face_id = np.full(height * width, -1, dtype=np.int64)
    tri = vertices[faces]  # (F, 3, 3)
    coef = _plane_coefficients(tri)
    lo, size = _face_boxes(tri, height, width)
    planes = _box_planes(coef, lo)
    counts = size[:, 0] * size[:, 1]
    drawn = np.flatnonzero(counts)
    counts = counts[drawn]
    start = 0
    while start < drawn.size:
        # as many faces as fit the candidate budget (at least one)
        total = np.cumsum(counts[start:])
        stop = start + max(1, int(np.searchsorted(total, MAX_CANDIDATES,
                                                  side='right')))
        _raster_chunk(planes, drawn[start:stop], counts[start:stop], lo,
                      size[:, 0], width, (depth, face_id))
        start = stop
    bary = np.zeros((height * width, 3))
    hit = np.flatnonzero(face_id >= 0)
    if hit.size:
        ys, xs = np.divmod(hit, width)
        centre = np.stack([xs + 0.5, ys + 0.5, np.ones(hit.size)], 1)
        bary[hit] = np.einsum('pkc,pc->pk', coef[face_id[hit], :3], centre)
    return (face_id.reshape(height, width), bary.reshape(height, width, 3),
            depth.reshape(height, width))


def _as_faces(faces, num_vertices: int, name: str) -> np.ndarray:
    """(F, 3) int64 copy of ``faces`` (numpy or torch), checked against the
    number of vertices."""
    if hasattr(faces, 'detach'):
        faces = faces.detach().cpu().numpy()
    faces = np.asarray(faces)
    if faces.size == 0:
        return np.zeros((0, 3), np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or \
            not np.issubdtype(faces.dtype, np.integer):
        raise ValueError(f'{name} must be an (F, 3) integer array, got '
                         f'{faces.dtype} {faces.shape}')
    if faces.min() < 0 or faces.max() >= num_vertices:
        raise ValueError(f'{name} index vertices outside [0, '
                         f'{num_vertices})')
    return faces.astype(np.int64)


def _as_list(value, is_single) -> list:
    return [value] if is_single(value) else list(value)


def _is_one_mesh(value) -> bool:
    return hasattr(value, 'shape') and len(value.shape) == 2


def _colors(color, num_meshes: int) -> np.ndarray:
    """(M, 3) RGB in [0, 1]: one colour for all meshes or one each."""
    colors = np.asarray(color, dtype=np.float64)
    if colors.shape == (3, ):
        colors = np.tile(colors, (num_meshes, 1))
    if colors.shape != (num_meshes, 3):
        raise ValueError(f'color must be one RGB triple or one per mesh '
                         f'({num_meshes}), got shape {colors.shape}')
    return colors


def _unit(vectors: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norm, 1e-12)


class MeshRenderer:
    """Z-buffered, Lambert-shaded drawing of meshes given in screen space.

    Colour of a drawn pixel: ``color * (ambient + diffuse * light_color *
    max(0, -n . light_dir))`` with n the unit normal turned towards the
    viewer (so face winding does not matter).

    Args:
        image_size: (H, W), or one side for a square image.
        light_dir: Direction the light travels, in the screen/camera frame
            (x right, y down, z forward); the default shines from the
            camera into the scene.
        ambient: Ambient share of the colour.
        diffuse: Lambertian share of the colour.
        light_color: RGB in [0, 1] of the directional light.
        background: RGB in [0, 1] drawn where no mesh and no ``image``.
        smooth: Interpolate vertex normals (True) or shade each face flat.
    """

    def __init__(self,
                 image_size: Union[int, Sequence[int]],
                 light_dir: Sequence[float] = (0., 0., 1.),
                 ambient: float = 0.35,
                 diffuse: float = 0.65,
                 light_color: Sequence[float] = (1., 1., 1.),
                 background: Sequence[float] = (0., 0., 0.),
                 smooth: bool = True):
        size = np.asarray(image_size).reshape(-1)
        size = np.repeat(size, 2) if size.size == 1 else size
        if size.shape != (2, ) or not np.issubdtype(size.dtype, np.integer) \
                or (size <= 0).any():
            raise ValueError(f'image_size must be a positive int or (H, W), '
                             f'got {image_size}')
        self.height, self.width = (int(s) for s in size)
        self.light_dir = self._direction(light_dir)
        self.ambient, self.diffuse = float(ambient), float(diffuse)
        self.light_color = _colors(light_color, 1)[0]
        self.background = _colors(background, 1)[0]
        self.smooth = smooth

    @staticmethod
    def _direction(light_dir) -> np.ndarray:
        light = np.asarray(light_dir, dtype=np.float64)
        if light.shape != (3, ) or not np.linalg.norm(light) > 0:
            raise ValueError(f'light_dir must be a non-zero 3-vector, got '
                             f'{light_dir}')
        return light / np.linalg.norm(light)

    def render(self,
               vertices: ArrayList,
               faces: ArrayList,
               image: Optional[np.ndarray] = None,
               color: Union[Sequence[float], np.ndarray] = DEFAULT_COLOR,
               light_dir: Optional[Sequence[float]] = None,
               light_color: Optional[Sequence[float]] = None,
               alpha: float = 1.0,
               normal_vertices: Optional[ArrayList] = None,
               smooth: Optional[bool] = None,
               vertex_colors: Optional[np.ndarray] = None
               ) -> Dict[str, np.ndarray]:
        """Draw one or several meshes, z-buffered together.

        Args:
            vertices: (N, 3) screen coordinates (see the module docstring),
                or a list of them, one per mesh.
            faces: (F, 3) vertex indices shared by all meshes, or a list
                with one array per mesh.
            image: Optional (H, W, 3) BGR uint8 background; not modified.
            color: RGB in [0, 1], one triple or one per mesh (M, 3).
            light_dir: Overrides the renderer's light direction.
            light_color: Overrides the renderer's light colour.
            alpha: Opacity of the meshes over the background, in [0, 1].
            normal_vertices: Optional camera-frame (N, 3) vertices (or one
                array per mesh) to take normals from. By default normals
                come from the screen-space vertices, which is right for
                weak perspective (``weak_perspective_to_screen`` scales z
                like xy) but not after ``perspective_to_screen`` (xy in
                pixels, z in metres): pass the camera-frame vertices then.
            smooth: Overrides the renderer's smooth/flat shading.
            vertex_colors: Optional (N_total, 3) RGB in [0, 1] per vertex
                (all meshes' vertices in order), interpolated across
                faces; replaces ``color``.

        Returns:
            dict: ``image`` (H, W, 3) BGR uint8, ``mask`` (H, W) bool where
            a mesh is drawn, ``depth`` (H, W) float64 screen z, +inf where
            empty.
        """
        if not 0. <= alpha <= 1.:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        verts, tris, mesh_of_face = self._merge(vertices, faces)
        num_meshes = len(_as_list(vertices, _is_one_mesh))
        colors = _colors(color, num_meshes)
        if vertex_colors is not None:
            vertex_colors = np.asarray(vertex_colors, dtype=np.float64)
            if vertex_colors.shape != verts.shape:
                raise ValueError(f'vertex_colors must be {verts.shape}, got '
                                 f'{vertex_colors.shape}')
        out = self._canvas(image)
        face_id, bary, depth = rasterize(verts, tris, self.height,
                                         self.width)
        mask = face_id >= 0
        if mask.any():
            normal_src = verts if normal_vertices is None else \
                self._stack_like(normal_vertices, verts)
            light = self._direction(light_dir) if light_dir is not None \
                else self.light_dir
            light_color = self.light_color if light_color is None else \
                _colors(light_color, 1)[0]
            shade = self._shade(normal_src, tris, face_id[mask], bary[mask],
                                light, normal_vertices is not None,
                                self.smooth if smooth is None else smooth)
            if vertex_colors is None:
                base = colors[mesh_of_face[face_id[mask]]]
            else:  # barycentric interpolation of the corner colours
                corners = vertex_colors[tris[face_id[mask]]]
                base = (bary[mask][..., None] * corners).sum(1)
            rgb = base * (
                self.ambient + self.diffuse * shade[:, None] * light_color)
            drawn = 255. * rgb[:, ::-1]  # RGB -> BGR
            out[mask] = np.clip(alpha * drawn + (1. - alpha) * out[mask] +
                                0.5, 0, 255).astype(np.uint8)
        return dict(image=out, mask=mask, depth=depth)

    def _merge(self, vertices, faces, name: str = 'vertices'):
        """Concatenate meshes: (N, 3) vertices, (F, 3) faces and the mesh
        index (F, ) of each face."""
        vert_list = _as_list(vertices, _is_one_mesh)
        face_list = _as_list(faces, _is_one_mesh)
        if len(face_list) == 1:
            face_list = face_list * len(vert_list)
        if len(face_list) != len(vert_list):
            raise ValueError(f'got {len(vert_list)} {name} arrays but '
                             f'{len(face_list)} face arrays')
        all_v, all_f, owner, offset = [], [], [], 0
        for k, (v, f) in enumerate(zip(vert_list, face_list)):
            v = _as_points(v, f'{name}[{k}]')
            f = _as_faces(f, len(v), f'faces[{k}]')
            all_v.append(v)
            all_f.append(f + offset)
            owner.append(np.full(len(f), k))
            offset += len(v)
        if not all_v:
            return np.zeros((0, 3)), np.zeros((0, 3), np.int64), \
                np.zeros(0, np.int64)
        return np.concatenate(all_v), np.concatenate(all_f), \
            np.concatenate(owner)

    @staticmethod
    def _stack_like(normal_vertices, verts: np.ndarray) -> np.ndarray:
        """(N, 3) camera-frame vertices of all meshes, checked to pair
        one to one with the merged screen vertices."""
        arrays = [_as_points(v, f'normal_vertices[{k}]') for k, v in
                  enumerate(_as_list(normal_vertices, _is_one_mesh))]
        stacked = np.concatenate(arrays) if arrays else np.zeros((0, 3))
        if stacked.shape != verts.shape:
            raise ValueError(f'normal_vertices must match vertices, got '
                             f'{stacked.shape} vs {verts.shape}')
        return stacked

    def _canvas(self, image: Optional[np.ndarray]) -> np.ndarray:
        if image is None:
            bgr = np.round(255. * self.background[::-1]).astype(np.uint8)
            return np.tile(bgr, (self.height, self.width, 1))
        image = np.asarray(image)
        if image.shape != (self.height, self.width, 3) or \
                image.dtype != np.uint8:
            raise ValueError(
                f'image (background) must be uint8 of shape '
                f'{(self.height, self.width, 3)}, got {image.dtype} '
                f'{image.shape}')
        return image.copy()

    @staticmethod
    def _shade(verts, tris, faces_hit, weights, light, perspective, smooth):
        """Lambert term max(0, -n . light) per drawn pixel (P, )."""
        tri = verts[tris]
        face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        if smooth:
            # area-weighted vertex normals (unnormalised cross products)
            vert_n = np.stack([
                np.bincount(tris.ravel(), np.repeat(face_n[:, d], 3),
                            minlength=len(verts)) for d in range(3)], 1)
            normals = np.einsum('pk,pkd->pd', weights,
                                vert_n[tris[faces_hit]])
        else:
            normals = face_n[faces_hit]
        normals = _unit(normals)
        # the viewer looks along +z (screen), or along the ray to the
        # point (camera frame); normals must point back at the viewer
        view = np.einsum('pk,pkd->pd', weights, tri[faces_hit]) \
            if perspective else np.array([0., 0., 1.])
        normals *= np.where((normals * view).sum(-1, keepdims=True) > 0,
                            -1., 1.)
        return np.clip(-normals @ light, 0., 1.)
