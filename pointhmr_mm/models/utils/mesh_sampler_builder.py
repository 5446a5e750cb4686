"""Build a mesh hierarchy for any body model.

For each coarser level:

1. Quadric decimation (``fast_simplification``) to as many vertices as
   possible without exceeding the target: on a closed genus-0 mesh such as
   SMPL every edge collapse removes one vertex and two faces, so asking for
   ``2 * (target - 2)`` faces hits the target exactly; otherwise a binary
   search over the face budget finds the largest result <= target.
2. Each decimated vertex is snapped onto a distinct nearest vertex of the
   finer mesh (KD-tree, greedy, best-placed first), so D only selects, and
   the coarse mesh takes the fine positions.
3. If decimation stopped short of the target, the fine vertex farthest from
   the selected ones is added and its nearest coarse triangle is split into
   three around it, repeated until the count is exact.
4. Each fine vertex gets the barycentric weights of its closest point on
   the coarse surface (trimesh); the selected vertices get one-hot rows on
   themselves, so D @ U = I exactly.

Shape shorthand: N fine vertices, n coarse vertices, F faces.
"""
from typing import List, Sequence, Tuple

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree
from tqdm import tqdm

from .mesh_sampler import MeshSampler, adjacency_from_faces

# The smallest closed triangle mesh (a tetrahedron).
MIN_LEVEL_VERTICES = 4
SNAP_CANDIDATES = 16  # nearest fine vertices tried when snapping
FACE_CANDIDATES = 16  # nearest coarse faces (by centroid) per fine vertex
BARYCENTRIC_SNAP = 1e-9  # |weight| below this is rounding: 0


def _clean(vertices: np.ndarray,
           faces: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Drop degenerate faces, then vertices no face uses (they would be
    isolated nodes of the graph)."""
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2])
                  & (faces[:, 0] != faces[:, 2])]
    used = np.unique(faces)
    remap = np.full(len(vertices), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return vertices[used], remap[faces]


def _decimate(vertices: np.ndarray, faces: np.ndarray,
              target: int) -> Tuple[np.ndarray, np.ndarray]:
    """(<= target, 3) vertices and their faces, as close to target as the
    decimation allows."""
    import fast_simplification  # imported where used, as trimesh

    def run(face_budget: int):
        return _clean(*fast_simplification.simplify(
            vertices, faces, target_count=face_budget))

    best = run(2 * (target - 2))  # exact on closed genus-0 meshes
    if len(best[0]) == target:
        return best
    if len(best[0]) > target:
        best = None
    low, high = 1, len(faces)
    while low <= high:  # largest face budget giving <= target vertices
        middle = (low + high) // 2
        result = run(middle)
        if len(result[0]) <= target:
            if best is None or len(result[0]) > len(best[0]):
                best = result
            low = middle + 1
        else:
            high = middle - 1
    if best is None or len(best[0]) < MIN_LEVEL_VERTICES:
        raise RuntimeError(f'decimation cannot reach {target} vertices from '
                           f'{len(vertices)}')
    return best


def _snap(fine: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """(n,) distinct fine-vertex index for each (n, 3) coarse vertex."""
    k = min(SNAP_CANDIDATES, len(fine))
    dist, idx = cKDTree(fine).query(coarse, k=k)
    dist, idx = dist.reshape(len(coarse), k), idx.reshape(len(coarse), k)
    taken = np.zeros(len(fine), dtype=bool)
    chosen = np.full(len(coarse), -1, dtype=np.int64)
    # Greedy over coarse vertices, best-placed first; a loop because each
    # choice changes what is free (n is at most a few thousand).
    for i in np.argsort(dist[:, 0], kind='stable'):
        free = idx[i][~taken[idx[i]]]
        if len(free) == 0:  # all candidates taken: nearest free anywhere
            free_all = np.flatnonzero(~taken)
            free = free_all[[np.argmin(
                np.linalg.norm(fine[free_all] - coarse[i], axis=1))]]
        chosen[i] = free[0]
        taken[free[0]] = True
    return chosen


def _fill_to_target(fine: np.ndarray, selected: np.ndarray,
                    faces: np.ndarray, target: int):
    """Add farthest fine vertices, each splitting its nearest coarse
    triangle into three, until ``target`` vertices are selected."""
    import trimesh  # here, not at import: training never needs it
    selected, faces = list(selected), faces.copy()
    gap = cKDTree(fine[selected]).query(fine)[0]
    while len(selected) < target:
        new = int(np.argmax(gap))
        point = fine[new]
        triangles = fine[np.asarray(selected)][faces]
        closest = trimesh.triangles.closest_point(
            triangles, np.repeat(point[None], len(faces), axis=0))
        split = int(np.argmin(np.linalg.norm(closest - point, axis=1)))
        a, b, c = faces[split]
        p = len(selected)
        # Same winding as the split triangle, so normals keep their side.
        faces = np.concatenate(
            [np.delete(faces, split, axis=0), [[a, b, p], [b, c, p],
                                               [c, a, p]]])
        selected.append(new)
        gap = np.minimum(gap, np.linalg.norm(fine - point, axis=1))
    return np.asarray(selected, dtype=np.int64), faces


def _barycentric_upsampling(fine: np.ndarray, coarse: np.ndarray,
                            faces: np.ndarray,
                            selected: np.ndarray) -> sp.csr_matrix:
    """(N, n) weights of each fine vertex on its closest coarse point."""
    import trimesh  # see _fill_to_target
    triangles = coarse[faces]
    k = min(FACE_CANDIDATES, len(faces))
    _, cand = cKDTree(triangles.mean(1)).query(fine, k=k)
    cand = cand.reshape(len(fine), k)
    points = np.repeat(fine, k, axis=0)
    closest = trimesh.triangles.closest_point(triangles[cand.ravel()], points)
    # (N * k, 3) -> (N, k): distance to each candidate face
    dist = np.linalg.norm(closest - points, axis=1).reshape(-1, k)
    pick = dist.argmin(1)
    rows = np.arange(len(fine))
    best = cand[rows, pick]
    bary = trimesh.triangles.points_to_barycentric(
        triangles[best], closest.reshape(-1, k, 3)[rows, pick])
    # A point on an edge or corner gets rounding-level weights (1e-17 on
    # one machine, 0 on another): snap them to 0 so that the matrices'
    # sparsity does not depend on the machine.
    bary = np.where(np.abs(bary) < BARYCENTRIC_SNAP, 0., bary)
    bary /= bary.sum(1, keepdims=True)
    # Selected vertices map to themselves; all others keep 3 weights.
    free = np.ones(len(fine), dtype=bool)
    free[selected] = False
    row_idx = np.concatenate([np.repeat(rows[free], 3), selected])
    col_idx = np.concatenate([faces[best[free]].ravel(),
                              np.arange(len(selected))])
    values = np.concatenate([bary[free].ravel(), np.ones(len(selected))])
    up = sp.csr_matrix((values, (row_idx, col_idx)),
                       (len(fine), len(coarse)))
    up.eliminate_zeros()
    return up


def _check_inputs(vertices, faces, levels) -> List[int]:
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f'vertices must be (N, 3), got {vertices.shape}')
    if not np.isfinite(vertices).all():
        raise ValueError('vertices must be finite')
    if (faces.ndim != 2 or faces.shape[1] != 3
            or not np.issubdtype(faces.dtype, np.integer)):
        raise ValueError(f'faces must be (F, 3) integers, got {faces.shape} '
                         f'{faces.dtype}')
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise ValueError(f'faces index outside the {len(vertices)} vertices')
    levels = [int(level) for level in levels]
    sizes = [len(vertices)] + levels
    if not levels or any(b >= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f'levels must be non-empty and decrease from the '
                         f'{len(vertices)} vertices, got {levels}')
    if levels[-1] < MIN_LEVEL_VERTICES:
        raise ValueError(f'levels must be >= {MIN_LEVEL_VERTICES}, got '
                         f'{levels}')
    return levels


def _coarsen(verts: np.ndarray, tris: np.ndarray, target: int):
    """One level: (target,) selected fine indices and (F', 3) faces."""
    dec_v, dec_f = _decimate(verts, tris, target)
    selected = _snap(verts, dec_v)
    if len(selected) < target:
        selected, dec_f = _fill_to_target(verts, selected, dec_f, target)
    return selected, dec_f


def build_mesh_sampler(vertices: np.ndarray, faces: np.ndarray,
                       levels: Sequence[int],
                       progress: bool = False) -> MeshSampler:
    """Build the hierarchy full -> levels[0] -> levels[1] -> ...

    Args:
        vertices: (N, 3) full-mesh vertices (e.g. the template), metres.
        faces: (F, 3) full-mesh faces.
        levels: Vertex counts of the coarser levels, decreasing; each is
            met exactly.
        progress: Show a progress bar over the levels.

    Returns:
        MeshSampler: with A, U, D and F for every level; coarse vertices
        are a subset of the finer level's vertices.
    """
    verts = np.asarray(vertices, dtype=np.float64)
    tris = np.asarray(faces)
    levels = _check_inputs(verts, tris, levels)
    tris = tris.astype(np.int64)
    adjacency, all_faces, ups, downs = [
        adjacency_from_faces(tris, len(verts))
    ], [tris], [], []
    for target in tqdm(levels, desc='mesh levels', disable=not progress):
        selected, coarse_faces = _coarsen(verts, tris, target)
        coarse = verts[selected]
        ups.append(_barycentric_upsampling(verts, coarse, coarse_faces,
                                           selected))
        downs.append(sp.csr_matrix(
            (np.ones(target), (np.arange(target), selected)),
            (target, len(verts))))
        adjacency.append(adjacency_from_faces(coarse_faces, target))
        all_faces.append(coarse_faces)
        verts, tris = coarse, coarse_faces
    return MeshSampler.from_matrices(A=adjacency, U=ups, D=downs,
                                     F=all_faces)
