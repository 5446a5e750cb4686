"""Write mesh hierarchies the way GraphCMR's ``mesh_downsampling.npz`` is
really laid out, so tests see the properties of the file users have.

The real file (GraphCMR's, shipped unchanged by METRO, FastMETRO and the
released PointHMR) is an npz of pickled object arrays:

- ``A``: csc adjacency per level, value 2 per edge, no self-loops;
- ``U``: csc upsampling per transition with exactly 3 stored weights per
  row; weights are fitted, not barycentric, so rows sum to 0.83-1.05 and
  some weights are negative (down to -2.53);
- ``D``: csc selection per transition, one 1 per row, D @ U = I to 1e-11;
- ``F``: uint32 faces per level;
- ``M``: pickled ``psbody.mesh.Mesh`` objects (psbody is not importable).

Its pickles name scipy's pre-1.8 module paths (``scipy.sparse.csc``), as
any scipy of its time wrote them; here they are written with protocol 2,
which numpy under Python 2 and 3 both read.
"""
import io
import pickle
import zipfile

import numpy as np
import scipy.sparse as sp

# A pickled psbody Mesh, written opcode by opcode: protocol 2, GLOBAL
# psbody.mesh.mesh.Mesh, NEWOBJ with no arguments, BUILD with {}, STOP.
PSBODY_PICKLE = b'\x80\x02cpsbody.mesh.mesh\nMesh\n)\x81}b.'
# The real file stores exactly this many weights per fine vertex.
PARENTS_PER_ROW = 3
# Weights padded in where a row had fewer parents (keeps D @ U ~ I).
PAD_WEIGHT = 1e-12


def graphcmr_upsampling(up, down, rng, spread=(0.83, 1.05),
                        negative_rows=0.02):
    """A GraphCMR-like version of a barycentric ``up`` (n_f, n_c).

    Rows of fine vertices that ``down`` does not select get a row sum
    drawn from ``spread`` and, for a fraction ``negative_rows``, one
    negative weight; every row gets exactly 3 stored weights. Rows that
    ``down`` selects stay one-hot (plus tiny pads), so D @ U = I holds.

    Returns:
        sp.csc_matrix: (n_f, n_c) float64.
    """
    up = sp.csr_matrix(up, dtype=np.float64)
    up.eliminate_zeros()
    fine, coarse = up.shape
    selected = np.zeros(fine, dtype=bool)
    selected[sp.csr_matrix(down).indices] = True
    rows, cols, vals = [], [], []
    for i in range(fine):
        start, stop = up.indptr[i], up.indptr[i + 1]
        idx, w = list(up.indices[start:stop]), list(up.data[start:stop])
        if not selected[i]:
            w = np.asarray(w) * rng.uniform(*spread)
            if len(w) > 1 and rng.random() < negative_rows:
                # move weight off one parent onto the others: the row sum
                # stays, one weight goes negative (extrapolation)
                delta = rng.uniform(0.5, 2.5)
                w[0] -= delta
                w[1:] += delta / (len(w) - 1)
            w = list(w)
        while len(idx) < PARENTS_PER_ROW:  # pad to 3 stored entries
            extra = int(rng.integers(coarse))
            if extra not in idx:
                idx.append(extra)
                w.append(PAD_WEIGHT)
        rows += [i] * len(idx)
        cols += idx
        vals += w
    return sp.csc_matrix((vals, (rows, cols)), (fine, coarse))


def _old_scipy_pickle(values):
    """Protocol-2 pickle of an object array, naming old scipy modules."""
    data = pickle.dumps(values, protocol=2)
    for fmt in ('csc', 'csr', 'coo'):
        data = data.replace(f'scipy.sparse._{fmt}\n'.encode(),
                            f'scipy.sparse.{fmt}\n'.encode())
    return data


def write_graphcmr_file(path, matrices, seed=0, realistic_weights=True):
    """Write ``matrices`` (A, U, D, F lists, e.g. ``MeshSampler.matrices()``)
    as GraphCMR laid them out; returns the U matrices written."""
    rng = np.random.default_rng(seed)
    ups = [
        graphcmr_upsampling(u, d, rng) if realistic_weights else
        sp.csc_matrix(u)
        for u, d in zip(matrices['U'], matrices['D'])
    ]
    members = dict(
        A=[sp.csc_matrix(a != 0, dtype=np.float64) * 2.
           for a in matrices['A']],
        U=ups,
        D=[sp.csc_matrix(d, dtype=np.float64) for d in matrices['D']],
        F=[np.asarray(f, dtype=np.uint32) for f in matrices['F']])
    with zipfile.ZipFile(path, 'w') as archive:
        for key, items in members.items():
            values = np.empty(len(items), dtype=object)
            for i, item in enumerate(items):
                values[i] = item
            buf = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                buf, dict(descr='|O', fortran_order=False,
                          shape=values.shape))
            archive.writestr(f'{key}.npy',
                             buf.getvalue() + _old_scipy_pickle(values))
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buf, dict(descr='|O', fortran_order=False, shape=(1, )))
        archive.writestr('M.npy', buf.getvalue() + PSBODY_PICKLE)
    return ups
