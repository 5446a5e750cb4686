"""Coarse-to-fine mesh hierarchy (GraphCMR/METRO ``mesh_downsampling.npz``).

Level 0 is the full mesh (6890 vertices for SMPL), then 1723 and 431.
Down- and upsampling are gathers over stored indices, so no dense
6890 x 1723 matrix is built and no sparse op reaches the model (export
tools such as ONNX handle gathers, not sparse matmuls).
"""
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import shortest_path
from torch import Tensor, nn

from pointhmr_mm.registry import TASK_UTILS
from pointhmr_mm.utils.safe_pickle import load_npz

REQUIRED_KEYS = ('A', 'U', 'D')


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple, np.ndarray)) else [
        value
    ]


@TASK_UTILS.register_module()
class MeshSampler(nn.Module):
    """Downsample, upsample and neighbourhoods on a mesh hierarchy.

    On the real SMPL 431-vertex mesh the k-hop masks allow 3005, 17679,
    43247 and 76035 ordered vertex pairs (self included) for k = 1, 3, 5
    and 7; the graph's diameter is 20.

    Args:
        filename: A ``mesh_downsampling.npz`` in GraphCMR's layout (keys A,
            U, D and optionally F; key M is never read).
        matrices: Instead of a file, a dict with the same keys (lists of
            scipy sparse matrices / face arrays), as the builder makes.
    """

    def __init__(self, filename: Optional[str] = None,
                 matrices: Optional[Dict[str, list]] = None):
        super().__init__()
        if (filename is None) == (matrices is None):
            raise ValueError('give exactly one of filename and matrices')
        self.source = str(filename) if filename else '<matrices>'
        data = (load_npz(filename, skip_keys=('M', ))
                if filename is not None else matrices)
        for key in REQUIRED_KEYS:
            if key not in data:
                raise KeyError(f"{Path(self.source).name} has no key '{key}'")
        self._adjacency = [sp.csr_matrix(a) for a in _as_list(data['A'])]
        ups = [sp.csr_matrix(u) for u in _as_list(data['U'])]
        downs = [sp.csr_matrix(d) for d in _as_list(data['D'])]
        self._faces = [np.asarray(f, dtype=np.int64)
                       for f in _as_list(data.get('F', []))]
        self.num_vertices = [a.shape[0] for a in self._adjacency]
        if not len(ups) == len(downs) == len(self.num_vertices) - 1:
            raise ValueError(f'{self.source}: expected one U and one D per '
                             f'level transition, got {len(ups)} U, '
                             f'{len(downs)} D for {len(self.num_vertices)} '
                             'levels')
        for level, (up, down) in enumerate(zip(ups, downs)):
            self._register_transition(level, up, down)
        self._distances = {}

    def _register_transition(self, level: int, up: sp.csr_matrix,
                             down: sp.csr_matrix) -> None:
        fine, coarse = self.num_vertices[level], self.num_vertices[level + 1]
        name = Path(self.source).name
        if down.shape != (coarse, fine) or up.shape != (fine, coarse):
            raise ValueError(f'{name}: level {level}: D is {down.shape} and '
                             f'U is {up.shape}, expected ({coarse}, {fine}) '
                             f'and ({fine}, {coarse})')
        down = down.tocsr()
        down.eliminate_zeros()
        if not (np.all(np.diff(down.indptr) == 1)
                and np.allclose(down.data, 1.)):
            raise ValueError(f"{name}: key 'D' level {level} must have "
                             'exactly one 1 per row')
        up = up.tocsr()
        up.eliminate_zeros()
        counts = np.diff(up.indptr)
        width = max(1, int(counts.max()))
        index = np.zeros((fine, width), dtype=np.int64)
        weight = np.zeros((fine, width), dtype=np.float32)
        for k in range(width):  # at most a few columns (3 in GraphCMR)
            has = counts > k
            pos = up.indptr[:-1][has] + k
            index[has, k] = up.indices[pos]
            weight[has, k] = up.data[pos]
        # Topology, not weights: rebuilt from the file, never saved.
        self.register_buffer(f'down_index_{level}',
                             torch.from_numpy(down.indices.astype(np.int64)),
                             persistent=False)
        self.register_buffer(f'up_index_{level}', torch.from_numpy(index),
                             persistent=False)
        self.register_buffer(f'up_weight_{level}', torch.from_numpy(weight),
                             persistent=False)

    def _level(self, level: int) -> int:
        num = len(self.num_vertices)
        if not -num <= level < num:
            raise IndexError(f'level {level} out of range for {num} levels')
        return level % num

    def downsample(self, x: Tensor, from_level: int = 0,
                   to_level: int = -1) -> Tensor:
        """(B, n_from, C) or (n_from, C) -> the coarser level's vertices."""
        start, stop = self._level(from_level), self._level(to_level)
        for level in range(start, stop):
            x = x.index_select(-2, getattr(self, f'down_index_{level}'))
        return x

    def upsample(self, x: Tensor, from_level: int = -1,
                 to_level: int = 0) -> Tensor:
        """(B, n_from, C) or (n_from, C) -> the finer level's vertices."""
        start, stop = self._level(from_level), self._level(to_level)
        for level in range(start - 1, stop - 1, -1):
            index = getattr(self, f'up_index_{level}')
            weight = getattr(self, f'up_weight_{level}').to(x.dtype)
            # (..., n_c, C) -> (..., n_f, K, C), weighted sum over K parents
            parents = x.index_select(-2, index.flatten()).unflatten(
                -2, index.shape)
            x = (parents * weight[..., None]).sum(-2)
        return x

    def upsample_all(self, x: Tensor) -> List[Tensor]:
        """Coarsest-level (B, n, C) -> every level, coarse to full."""
        levels = [x]
        for level in range(len(self.num_vertices) - 1, 0, -1):
            levels.append(self.upsample(levels[-1], level, level - 1))
        return levels

    def adjacency(self, level: int) -> sp.csr_matrix:
        """Symmetric adjacency of a level, no self-loops."""
        return self._adjacency[self._level(level)]

    def faces(self, level: int) -> np.ndarray:
        """(F, 3) faces of a level."""
        if not self._faces:
            raise KeyError(f"{self.source} has no faces (key 'F')")
        return self._faces[self._level(level)]

    def khop_mask(self, level: int, hops: int) -> Tensor:
        """(n, n) bool: True where the graph distance is at most ``hops``
        (each vertex reaches itself)."""
        level = self._level(level)
        if level not in self._distances:
            self._distances[level] = shortest_path(
                self._adjacency[level], unweighted=True, directed=False)
        return torch.from_numpy(self._distances[level] <= hops)

    def matrices(self) -> Dict[str, list]:
        """A, U, D, F as scipy matrices / arrays, GraphCMR's layout."""
        ups, downs = [], []
        for level in range(len(self.num_vertices) - 1):
            fine, coarse = self.num_vertices[level:level + 2]
            index = getattr(self, f'up_index_{level}').numpy()
            weight = getattr(self, f'up_weight_{level}').numpy()
            rows = np.repeat(np.arange(fine), index.shape[1])
            ups.append(sp.csr_matrix(
                (weight.ravel(), (rows, index.ravel())), (fine, coarse)))
            down = getattr(self, f'down_index_{level}').numpy()
            downs.append(sp.csr_matrix(
                (np.ones(coarse), (np.arange(coarse), down)), (coarse, fine)))
        return dict(A=self._adjacency, U=ups, D=downs, F=self._faces)

    def save(self, path: Union[str, Path]) -> None:
        """Write GraphCMR's npz layout (A, U, D, F; no M)."""
        arrays = {}
        for key, values in self.matrices().items():
            arrays[key] = np.empty(len(values), dtype=object)
            for i, value in enumerate(values):
                arrays[key][i] = value
        np.savez(path, **arrays)


def adjacency_from_faces(faces: np.ndarray, num_vertices: int) -> sp.csr_matrix:
    """Symmetric 0/1 adjacency of a triangle mesh, without self-loops."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]],
                            faces[:, [2, 0]]])
    adj = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])),
                        (num_vertices, num_vertices)).tocsr()
    adj = ((adj + adj.T) > 0).astype(np.float32)
    adj.setdiag(0)
    adj.eliminate_zeros()
    return adj


def check_levels(levels: Sequence[int]) -> None:
    if any(b >= a for a, b in zip(levels, levels[1:])):
        raise ValueError(f'levels must decrease, got {list(levels)}')
