"""Coarse-to-fine mesh hierarchy (GraphCMR/METRO ``mesh_downsampling.npz``).

Level 0 is the full mesh (6890 vertices for SMPL), then 1723 and 431.
Down- and upsampling are gathers over stored indices, so no dense
6890 x 1723 matrix is built and no sparse op reaches the model (export
tools such as ONNX handle gathers, not sparse matmuls).

Shape shorthand: B batch, n vertices of a level, C channels, K parents per
fine vertex (3 in GraphCMR's files).
"""
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import dijkstra
from torch import Tensor, nn

from pointhmr_mm.registry import TASK_UTILS
from pointhmr_mm.utils.safe_pickle import load_npz

REQUIRED_KEYS = ('A', 'U', 'D')
# GraphCMR's M holds psbody.mesh pickles; psbody is not installable, so the
# key is never read.
SKIPPED_KEYS = ('M', )
# A fine vertex lies on one coarse triangle, so it has at most 3 parents.
MAX_UP_PARENTS = 3
# Downsampling then upsampling must give back the coarse values: D @ U = I.
# GraphCMR's file holds it to 1e-11; float32 storage (our own files) to ~1e-7.
# U's rows need NOT sum to 1: GraphCMR's fitted weights sum to 0.83-1.05 and
# go down to -2.5, and the released model was trained with them as they are.
DU_IDENTITY_TOL = 1e-5
# Rows of the distance matrix computed at once; bounds memory at level 0
# (6890 x 6890 float64 would be 380 MB in one go).
KHOP_ROW_CHUNK = 512


def _as_list(value) -> list:
    """A per-level entry of the file (object array, list or one matrix)."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        return list(value.ravel())
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


@TASK_UTILS.register_module()
class MeshSampler(nn.Module):
    """Downsample, upsample and neighbourhoods on a mesh hierarchy.

    The file is validated on load: every key names its level in errors.
    Topology is stored as non-persistent buffers (it comes from the file,
    not from checkpoints): for each transition ``level -> level + 1``,
    ``down_index_{level}`` (n_coarse,) long, the fine vertex each coarse
    vertex selects, and ``up_index_{level}`` / ``up_weight_{level}``
    (n_fine, K) long / float32, each fine vertex's coarse parents and
    weights (padded with weight 0).

    Args:
        filename: A ``mesh_downsampling.npz`` in GraphCMR's layout (keys A,
            U, D and optionally F; key M is never read).
        matrices: Instead of a file, a dict with the same keys (lists of
            scipy sparse matrices / face arrays); see :meth:`from_matrices`.
    """

    def __init__(self, filename: Optional[Union[str, Path]] = None,
                 matrices: Optional[Dict[str, list]] = None):
        super().__init__()
        if (filename is None) == (matrices is None):
            raise ValueError('MeshSampler: give exactly one of filename and '
                             'matrices')
        self.source = (Path(filename).name
                       if filename is not None else '<matrices>')
        data = (load_npz(filename, skip_keys=SKIPPED_KEYS)
                if filename is not None else matrices)
        for key in REQUIRED_KEYS:
            if key not in data:
                raise KeyError(f"{self.source} has no key '{key}'")
        self._adjacency = [
            self._checked_adjacency(a, level)
            for level, a in enumerate(_as_list(data['A']))
        ]
        self.num_vertices = [a.shape[0] for a in self._adjacency]
        ups, downs = _as_list(data['U']), _as_list(data['D'])
        if not len(ups) == len(downs) == len(self.num_vertices) - 1:
            raise ValueError(f'{self.source}: expected one U and one D per '
                             f'level transition, got {len(ups)} U, '
                             f'{len(downs)} D for {len(self.num_vertices)} '
                             "levels (key 'A')")
        for level, (up, down) in enumerate(zip(ups, downs)):
            self._register_transition(level, up, down)
        self._faces = self._checked_faces(_as_list(data.get('F', [])))

    @classmethod
    def from_matrices(cls, A: Sequence[sp.spmatrix],
                      U: Sequence[sp.spmatrix], D: Sequence[sp.spmatrix],
                      F: Sequence[np.ndarray] = ()) -> 'MeshSampler':
        """Build from per-level matrices in GraphCMR's layout.

        Args:
            A: One (n_l, n_l) symmetric adjacency per level, no self-loops.
            U: One (n_l, n_{l+1}) upsampling matrix per transition.
            D: One (n_{l+1}, n_l) selection matrix per transition.
            F: Optional (F_l, 3) faces per level.
        """
        return cls(matrices=dict(A=list(A), U=list(U), D=list(D),
                                 F=list(F)))

    def _checked_adjacency(self, adj, level: int) -> sp.csr_matrix:
        where = f"{self.source}: key 'A' level {level}"
        adj = self._checked_sparse(adj, where)
        if adj.shape[0] != adj.shape[1]:
            raise ValueError(f'{where} must be square, got {adj.shape}')
        if (adj != adj.T).nnz:
            raise ValueError(f'{where} must be symmetric')
        if adj.diagonal().any():
            raise ValueError(f'{where} must have no self-loops')
        # GraphCMR stores 2 per edge; only the pattern is the graph.
        adj.eliminate_zeros()
        return sp.csr_matrix((np.ones_like(adj.data, dtype=np.float32),
                              adj.indices, adj.indptr), adj.shape)

    @staticmethod
    def _checked_sparse(matrix, where: str) -> sp.csr_matrix:
        """``matrix`` as csr, or a clear error naming ``where``."""
        try:
            matrix = sp.csr_matrix(matrix, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f'{where} must be a 2D numeric (sparse) matrix, '
                             f'got {type(matrix).__name__}: {err}') from None
        if not np.isfinite(matrix.data).all():
            raise ValueError(f'{where} has non-finite values')
        return matrix

    def _register_transition(self, level: int, up, down) -> None:
        fine, coarse = self.num_vertices[level], self.num_vertices[level + 1]
        up = self._checked_sparse(up, f"{self.source}: key 'U' level {level}")
        down = self._checked_sparse(down,
                                    f"{self.source}: key 'D' level {level}")
        for key, matrix, shape in (('D', down, (coarse, fine)),
                                   ('U', up, (fine, coarse))):
            if matrix.shape != shape:
                raise ValueError(f"{self.source}: key '{key}' level {level} "
                                 f'is {matrix.shape}, expected {shape} from '
                                 "the sizes in key 'A'")
            matrix.eliminate_zeros()
        if not (np.all(np.diff(down.indptr) == 1)
                and np.all(down.data == 1.)):
            raise ValueError(f"{self.source}: key 'D' level {level} must "
                             'have exactly one 1 per row')
        counts = np.diff(up.indptr)
        if counts.min() < 1 or counts.max() > MAX_UP_PARENTS:
            raise ValueError(f"{self.source}: key 'U' level {level} must have "
                             f'1 to {MAX_UP_PARENTS} nonzeros per row, got '
                             f'{counts.min()} to {counts.max()}')
        error = abs(down @ up - sp.eye(coarse, format='csr')).max()
        if error > DU_IDENTITY_TOL:
            raise ValueError(f"{self.source}: keys 'D' and 'U' level {level}: "
                             f'D @ U must be the identity (within '
                             f'{DU_IDENTITY_TOL:g}), worst entry is off by '
                             f'{error:.3g}')
        width = int(counts.max())
        index = np.zeros((fine, width), dtype=np.int64)
        weight = np.zeros((fine, width), dtype=np.float32)
        for k in range(width):  # at most MAX_UP_PARENTS columns
            has = counts > k
            pos = up.indptr[:-1][has] + k
            index[has, k] = up.indices[pos]
            weight[has, k] = up.data[pos]
        self.register_buffer(f'down_index_{level}',
                             torch.from_numpy(down.indices.astype(np.int64)),
                             persistent=False)
        self.register_buffer(f'up_index_{level}', torch.from_numpy(index),
                             persistent=False)
        self.register_buffer(f'up_weight_{level}', torch.from_numpy(weight),
                             persistent=False)

    def _checked_faces(self, faces: list) -> List[np.ndarray]:
        if faces and len(faces) != len(self.num_vertices):
            raise ValueError(f"{self.source}: key 'F' has {len(faces)} levels"
                             f", key 'A' has {len(self.num_vertices)}")
        checked = []
        for level, tris in enumerate(faces):
            tris = np.asarray(tris)
            if (tris.ndim != 2 or tris.shape[1] != 3
                    or not np.issubdtype(tris.dtype, np.integer)):
                raise ValueError(f"{self.source}: key 'F' level {level} must "
                                 f'be (F, 3) integers, got {tris.shape} '
                                 f'{tris.dtype}')
            if tris.size and (tris.min() < 0 or
                              tris.max() >= self.num_vertices[level]):
                raise ValueError(f"{self.source}: key 'F' level {level} "
                                 'indexes outside the level\'s '
                                 f'{self.num_vertices[level]} vertices')
            checked.append(tris.astype(np.int64))
        return checked

    def extra_repr(self) -> str:
        return f'source={self.source}, num_vertices={self.num_vertices}'

    def _level(self, level: int) -> int:
        num = len(self.num_vertices)
        if not -num <= level < num:
            raise IndexError(f'level {level} out of range for {num} levels')
        return level % num

    def _check_vertices(self, x: Tensor, level: int) -> None:
        if torch.jit.is_tracing():
            # Export traces shapes as tensors; the check ran when the
            # model was built and tested, and would only add a warning.
            return
        num = self.num_vertices[level]
        if x.dim() not in (2, 3) or x.shape[-2] != num:
            raise ValueError(f'x must be (B, {num}, C) or ({num}, C) for '
                             f'level {level}, got {tuple(x.shape)}')

    def downsample(self, x: Tensor, from_level: int = 0,
                   to_level: int = -1) -> Tensor:
        """Select the coarser level's vertices.

        Args:
            x: (B, n_from, C) or (n_from, C) values on ``from_level``.
            from_level: Finer level (0 is the full mesh; negative counts
                from the coarsest).
            to_level: Coarser level.

        Returns:
            Tensor: (B, n_to, C) or (n_to, C).
        """
        start, stop = self._level(from_level), self._level(to_level)
        if start > stop:
            raise ValueError(f'downsample goes from a finer to a coarser '
                             f'level, got {from_level} -> {to_level}')
        self._check_vertices(x, start)
        for level in range(start, stop):
            x = x.index_select(-2, getattr(self, f'down_index_{level}'))
        return x

    def upsample(self, x: Tensor, from_level: int = -1,
                 to_level: int = 0) -> Tensor:
        """Interpolate to a finer level: each fine vertex is the weighted
        sum of its coarse parents (a gather, no sparse op).

        Args:
            x: (B, n_from, C) or (n_from, C) values on ``from_level``.
            from_level: Coarser level (-1 is the coarsest).
            to_level: Finer level (0 is the full mesh).

        Returns:
            Tensor: (B, n_to, C) or (n_to, C), dtype of ``x``.
        """
        start, stop = self._level(from_level), self._level(to_level)
        if start < stop:
            raise ValueError(f'upsample goes from a coarser to a finer '
                             f'level, got {from_level} -> {to_level}')
        self._check_vertices(x, start)
        for level in range(start - 1, stop - 1, -1):
            index = getattr(self, f'up_index_{level}')
            weight = getattr(self, f'up_weight_{level}').to(x.dtype)
            # (..., n_c, C) -> (..., n_f * K, C) -> (..., n_f, K, C)
            parents = x.index_select(-2, index.flatten()).unflatten(
                -2, index.shape)
            x = (parents * weight[..., None]).sum(-2)
        return x

    def upsample_all(self, x: Tensor) -> List[Tensor]:
        """Coarsest-level (B, n_coarsest, C) or (n_coarsest, C) -> a list
        with every level, coarsest first and the full mesh last."""
        levels = [x]
        for level in range(len(self.num_vertices) - 1, 0, -1):
            levels.append(self.upsample(levels[-1], level, level - 1))
        return levels

    def adjacency(self, level: int) -> sp.csr_matrix:
        """(n, n) symmetric 0/1 adjacency of a level, no self-loops."""
        return self._adjacency[self._level(level)]

    def faces(self, level: int) -> np.ndarray:
        """(F, 3) int64 faces of a level."""
        if not self._faces:
            raise KeyError(f"{self.source} has no faces (key 'F')")
        return self._faces[self._level(level)]

    def khop_mask(self, level: int, hops: int) -> Tensor:
        """Vertex pairs within ``hops`` edges of each other.

        On the real SMPL 431-vertex level the masks allow 3005, 17679,
        43247 and 76035 ordered pairs (self included) for k = 1, 3, 5 and 7
        (the licensed file is needed to check this, so no test does).

        Args:
            level: Level of the hierarchy.
            hops: Largest shortest-path distance (edges) allowed, >= 0.

        Returns:
            Tensor: (n, n) bool, True where the distance on the level's
            graph is at most ``hops``; symmetric, diagonal True.
        """
        if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
            raise ValueError(f'hops must be an int >= 0, got {hops!r}')
        adj = self.adjacency(level)
        num = adj.shape[0]
        mask = np.empty((num, num), dtype=bool)
        for start in range(0, num, KHOP_ROW_CHUNK):
            rows = np.arange(start, min(num, start + KHOP_ROW_CHUNK))
            # `limit` stops the search at `hops`; farther pairs get inf.
            dist = dijkstra(adj, directed=False, unweighted=True,
                            indices=rows, limit=hops)
            mask[rows] = dist <= hops
        return torch.from_numpy(mask)

    def matrices(self) -> Dict[str, list]:
        """A, U, D, F as scipy csr matrices / arrays, GraphCMR's layout."""
        ups, downs = [], []
        for level in range(len(self.num_vertices) - 1):
            fine, coarse = self.num_vertices[level:level + 2]
            index = getattr(self, f'up_index_{level}').cpu().numpy()
            weight = getattr(self, f'up_weight_{level}').cpu().numpy()
            rows = np.repeat(np.arange(fine), index.shape[1])
            up = sp.csr_matrix(
                (weight.ravel().astype(np.float64), (rows, index.ravel())),
                (fine, coarse))
            up.eliminate_zeros()  # the padding
            ups.append(up)
            down = getattr(self, f'down_index_{level}').cpu().numpy()
            downs.append(sp.csr_matrix(
                (np.ones(coarse), (np.arange(coarse), down)), (coarse, fine)))
        return dict(A=list(self._adjacency), U=ups, D=downs,
                    F=list(self._faces))

    def save(self, path: Union[str, Path]) -> None:
        """Write GraphCMR's npz layout (A, U, D, F as object arrays; no M)
        to exactly ``path`` (no suffix added), atomically."""
        arrays = {}
        for key, values in self.matrices().items():
            arrays[key] = np.empty(len(values), dtype=object)
            for i, value in enumerate(values):
                arrays[key][i] = value
        path = Path(path)
        partial = path.with_name(path.name + '.partial')
        with open(partial, 'wb') as file:
            np.savez(file, **arrays)
        os.replace(partial, path)


def adjacency_from_faces(faces: np.ndarray, num_vertices: int) -> sp.csr_matrix:
    """(n, n) symmetric 0/1 float32 adjacency of a triangle mesh with
    (F, 3) faces, without self-loops."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]],
                            faces[:, [2, 0]]])
    adj = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])),
                        (num_vertices, num_vertices)).tocsr()
    adj = ((adj + adj.T) > 0).astype(np.float32)
    adj.setdiag(0)
    adj.eliminate_zeros()
    return sp.csr_matrix(adj)
