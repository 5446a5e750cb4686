"""Build a mesh hierarchy for any body model.

Each coarser level is a quadric decimation (fast_simplification) whose
vertices are snapped onto distinct vertices of the finer mesh, so D only
selects. Each fine vertex gets barycentric weights on the closest point of
the coarser surface (trimesh), and the selected vertices get one-hot rows,
so D @ U = I.
"""
from typing import Sequence, Tuple

import fast_simplification
import numpy as np
import scipy.sparse as sp
import trimesh
from scipy.spatial import cKDTree

from .mesh_sampler import MeshSampler, adjacency_from_faces, check_levels

SNAP_CANDIDATES = 16  # nearest fine vertices tried when snapping
FACE_CANDIDATES = 16  # nearest coarse faces tried per fine vertex


def _decimate(vertices, faces, target: int) -> Tuple[np.ndarray, np.ndarray]:
    # A closed genus-0 surface has F = 2 (V - 2) faces.
    dec_v, dec_f = fast_simplification.simplify(
        vertices, faces.astype(np.int64), target_count=2 * (target - 2))
    if len(dec_v) != target:
        raise RuntimeError(f'decimation gave {len(dec_v)} vertices instead '
                           f'of {target}; choose another level size')
    return dec_v, dec_f


def _snap(fine: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """Distinct fine-vertex index for each coarse vertex, nearest first."""
    k = min(SNAP_CANDIDATES, len(fine))
    dist, idx = cKDTree(fine).query(coarse, k=k)
    taken = np.zeros(len(fine), dtype=bool)
    chosen = np.full(len(coarse), -1)
    for i in np.argsort(dist[:, 0]):  # best-placed coarse vertices first
        free = idx[i][~taken[idx[i]]]
        if len(free) == 0:  # all candidates taken: nearest free anywhere
            free_all = np.flatnonzero(~taken)
            free = free_all[[np.argmin(
                np.linalg.norm(fine[free_all] - coarse[i], axis=1))]]
        chosen[i] = free[0]
        taken[free[0]] = True
    return chosen


def _barycentric_upsampling(fine, coarse, faces, selected) -> sp.csr_matrix:
    """(n_fine, n_coarse) weights of each fine vertex on the coarse mesh."""
    triangles = coarse[faces]
    k = min(FACE_CANDIDATES, len(faces))
    _, cand = cKDTree(triangles.mean(1)).query(fine, k=k)
    tri = triangles[cand.ravel()]
    points = np.repeat(fine, k, axis=0)
    closest = trimesh.triangles.closest_point(tri, points)
    dist = np.linalg.norm(closest - points, axis=1).reshape(-1, k)
    best = cand[np.arange(len(fine)), dist.argmin(1)]
    bary = trimesh.triangles.points_to_barycentric(
        triangles[best], closest.reshape(-1, k, 3)[np.arange(len(fine)),
                                                   dist.argmin(1)])
    rows = np.repeat(np.arange(len(fine)), 3)
    up = sp.csr_matrix((bary.ravel(), (rows, faces[best].ravel())),
                       (len(fine), len(coarse))).tolil()
    for j, i in enumerate(selected):  # selected vertices map to themselves
        up.rows[i], up.data[i] = [j], [1.]
    return up.tocsr()


def build_mesh_sampler(vertices: np.ndarray, faces: np.ndarray,
                       levels: Sequence[int]) -> MeshSampler:
    """Build the hierarchy full -> levels[0] -> levels[1] -> ...

    Args:
        vertices: (N, 3) full-mesh vertices (e.g. the template).
        faces: (F, 3) full-mesh faces.
        levels: Vertex counts of the coarser levels, decreasing; met
            exactly.

    Returns:
        MeshSampler: with A, U, D and F for every level.
    """
    check_levels([len(vertices)] + list(levels))
    verts, tris = np.asarray(vertices, np.float64), np.asarray(faces)
    adjacency = [adjacency_from_faces(tris, len(verts))]
    all_faces, ups, downs = [tris], [], []
    for target in levels:
        dec_v, dec_f = _decimate(verts, tris, target)
        selected = _snap(verts, dec_v)
        coarse = verts[selected]
        keep = (dec_f[:, 0] != dec_f[:, 1]) & (dec_f[:, 1] != dec_f[:, 2]) & \
            (dec_f[:, 0] != dec_f[:, 2])
        dec_f = dec_f[keep]
        ups.append(_barycentric_upsampling(verts, coarse, dec_f, selected))
        downs.append(sp.csr_matrix(
            (np.ones(target), (np.arange(target), selected)),
            (target, len(verts))))
        adjacency.append(adjacency_from_faces(dec_f, target))
        all_faces.append(dec_f)
        verts, tris = coarse, dec_f
    return MeshSampler(matrices=dict(A=adjacency, U=ups, D=downs,
                                     F=all_faces))
