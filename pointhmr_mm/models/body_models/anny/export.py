"""Bake Anny into SMPL's file format and MMHuman3D's folder layout.

The baked body:

- rest (``theta = 0``) is Anny's reference A-pose, so an SMPL axis-angle
  ``theta`` is Anny's ``local-ref`` ``C^T theta`` (:mod:`.rig`);
- the mesh is Anny's watertight body decimated to SMPL's 6,890 vertices
  (a subset of Anny's vertices), with the mesh hierarchy continuing to
  SMPL's 1,723 and 431 (``mesh_downsampling.npz``);
- skinning is Anny's, summed over each SMPL joint's bones; Anny is plain
  linear blend skinning, so ``posedirs`` are zeros;
- shape space: 10 PCA directions of sampled adult phenotypes about each
  gender's template adult (:mod:`.source`);
- joint regressors are convex (:mod:`.regressors`).

Shape shorthand: N_full Anny vertices, N baked vertices, S samples.
"""
import json
import pickle
from pathlib import Path
from typing import Dict, Sequence, Union

import numpy as np
import scipy.sparse as sp
import torch
from tqdm import tqdm

from pointhmr_mm.utils.atomic_io import write_file_atomically
from pointhmr_mm.utils.constants import (GENDERS, NUM_BETAS,
                                         NUM_POSE_CORRECTIVES)
from pointhmr_mm.utils.keypoints import H36M_TO_J14, SMPL24_PARENTS
from ...utils.mesh_sampler import MeshSampler
from ...utils.mesh_sampler_builder import build_mesh_sampler
from . import regressors, rig, source
from .body_parts import anny_uv_labels, body_part_arrays
from .shape_space import shape_space

SMPL_VERTICES = 6890
SMPL_LEVELS = (1723, 431)
NUM_SAMPLES = 200  # phenotypes per gender for the shape space
# Of those, how many per gender the joint regressor is fitted on (the fit
# costs about linearly in them and changes by < 0.1 mm beyond this).
FIT_SAMPLES = 60
FORMATS = ('pkl', 'npz')
ROOT_PARENT = np.uint32(2**32 - 1)  # how SMPL files mark the root
LICENCE = ('Generated from Anny (NAVER LABS): code Apache-2.0, MakeHuman '
           'assets CC0-1.0; these files inherit both.')


def _check_arguments(num_vertices, levels, num_samples):
    """Refuse bad sizes before Anny is built."""
    sizes = [num_vertices, *levels]
    if any(int(n) != n or n < 4 for n in sizes) or any(
            b >= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError('num_vertices and levels must be decreasing vertex '
                         f'counts of at least 4, got {sizes}')
    if num_samples <= NUM_BETAS:
        raise ValueError(f'num_samples={num_samples} cannot give '
                         f'{NUM_BETAS} shape directions (need more)')


def _gender_shapes(model, gender, num_samples, rng, selection, tops):
    """The template and ``num_samples`` sampled adults of one gender:
    (meshes (1 + S, N, 3), pivots (1 + S, 24, 3)), SMPL frame."""
    phenotypes = source.sample_phenotypes(gender, num_samples, rng)
    template = source.template_phenotype(gender)
    both = {k: np.concatenate([template[k], v])
            for k, v in phenotypes.items()}
    out = source.reference_meshes(model, both)
    return (rig.to_smpl_frame(out['vertices'][:, selection]),
            rig.to_smpl_frame(rig.group_pivots(out['bone_heads'], tops)))


def _gender_model(meshes, pivots, faces, weights):
    """SMPL's keys for one gender from its template-first shapes, and the
    variance its shape space explains."""
    shapedirs, _, explained = shape_space(meshes[1:], meshes[0])
    # Each gender's regressor is fitted on its own shapes: one shared by
    # the genders puts the male and female templates' pivots ~5 mm off.
    kinematic = regressors.kinematic_regressor(
        meshes[:1 + FIT_SAMPLES], pivots[:1 + FIT_SAMPLES], weights,
        num_templates=1)
    return _smpl_arrays(meshes[0], faces, weights, kinematic,
                        shapedirs), explained


def build_anny_body(seed: int = 0, topology: str = source.TOPOLOGIES[0],
                    num_vertices: int = SMPL_VERTICES,
                    levels: Sequence[int] = SMPL_LEVELS,
                    num_samples: int = NUM_SAMPLES,
                    progress: bool = False) -> Dict[str, object]:
    """Everything the files hold, as arrays.

    Args:
        seed: Seeds the phenotype samples; same seed, same files.
        topology: One of :data:`.source.TOPOLOGIES` (a closed mesh is
            needed to decimate it exactly).
        num_vertices: Vertices of the baked body (SMPL's 6890).
        levels: Coarser levels of the mesh hierarchy (SMPL's 1723, 431).
        num_samples: Phenotypes sampled per gender.
        progress: Show a progress bar.

    Returns:
        dict: ``models`` (gender -> SMPL pickle keys), ``h36m`` (17, N),
        ``lsp14`` (14, N), ``coco`` (17, N), ``body_parts`` (arrays),
        ``sampler`` (:class:`MeshSampler`, N -> levels),
        ``anny_vertex_indices`` (N,) and ``meta``.
    """
    _check_arguments(num_vertices, levels, num_samples)
    threads = torch.get_num_threads()
    # One thread: the sums in Anny's float64 forward then round the same
    # way on every machine, so the decimation (which ties can flip) and
    # every file are the same for a seed (two threads moved a vertex).
    torch.set_num_threads(1)
    try:
        return _build(seed, topology, num_vertices, levels, num_samples,
                      progress)
    finally:
        torch.set_num_threads(threads)


def _build(seed, topology, num_vertices, levels, num_samples, progress):
    """:func:`build_anny_body` on checked arguments."""
    model = source.load_anny(topology)
    groups = rig.bone_groups(model.bone_labels, model.bone_parents)
    tops = rig.top_bones(groups, model.bone_parents)
    bar = tqdm(total=len(GENDERS) + 2, desc='anny body', disable=not progress)
    # The hierarchy Anny -> num_vertices -> levels, on the neutral template;
    # its first level is the baked mesh (a subset of Anny's vertices).
    full = source.reference_meshes(model, source.template_phenotype('neutral'))
    matrices = build_mesh_sampler(
        rig.to_smpl_frame(full['vertices'][0]), np.asarray(model.faces),
        [num_vertices, *levels]).matrices()
    # D's rows are one-hot: each baked vertex's Anny vertex
    selection = np.asarray(matrices['D'][0].argmax(1)).ravel()
    weights = rig.group_skinning_weights(
        model.vertex_bone_weights.numpy(), model.vertex_bone_indices.numpy(),
        groups)[selection]
    bar.update()
    rng = np.random.default_rng(seed)
    models, meta = {}, dict(anny=source.require_anny().__version__,
                            topology=topology, seed=seed, licence=LICENCE,
                            num_samples=num_samples,
                            adult_age=source.ADULT_AGE,
                            anny_vertices=len(full['vertices'][0]))
    for gender in GENDERS:
        meshes, pivots = _gender_shapes(model, gender, num_samples, rng,
                                        selection, tops)
        models[gender], meta[f'{gender}_shape_variance_explained'] = \
            _gender_model(meshes, pivots, matrices['F'][1], weights)
        bar.update()
    neutral = models['neutral']
    h36m = regressors.h36m_regressor(neutral['J_regressor'].toarray(),
                                     neutral['v_template'])
    coco = regressors.transfer_regressor(regressors.anny_coco_rows(model),
                                         matrices['U'][0])
    uv_labels, uv_names = anny_uv_labels(model)
    bar.update()
    bar.close()
    meta['template_phenotypes'] = {
        g: {k: float(v[0]) for k, v in source.template_phenotype(g).items()}
        for g in GENDERS}
    return dict(
        models=models, h36m=h36m, lsp14=h36m[list(H36M_TO_J14)], coco=coco,
        body_parts=body_part_arrays(weights, uv_labels[selection], uv_names),
        sampler=MeshSampler.from_matrices(
            A=matrices['A'][1:], U=matrices['U'][1:], D=matrices['D'][1:],
            F=matrices['F'][1:]),
        anny_vertex_indices=selection, meta=meta)


def _smpl_arrays(template, faces, weights, kinematic, shapedirs):
    """SMPL's pickle keys for one gender."""
    parents = np.array(SMPL24_PARENTS, dtype=np.int64).astype(np.uint32)
    parents[0] = ROOT_PARENT
    return dict(
        v_template=template, f=faces.astype(np.uint32), weights=weights,
        kintree_table=np.stack([parents, np.arange(24, dtype=np.uint32)]),
        J_regressor=sp.csc_matrix(kinematic), J=kinematic @ template,
        shapedirs=shapedirs,
        # float32 halves the zeros' size; smplx computes in float32
        posedirs=np.zeros((len(template), 3, NUM_POSE_CORRECTIVES),
                          dtype=np.float32))


def anny_body_paths(out_dir: Union[str, Path],
                    file_format: str = 'pkl') -> Dict[str, Path]:
    """Where :func:`make_anny_body_files` writes, by name."""
    if file_format not in FORMATS:
        raise ValueError(f'file_format must be one of {list(FORMATS)}, got '
                         f'"{file_format}"')
    out_dir = Path(out_dir)
    paths = {g: out_dir / 'smpl' / f'SMPL_{g.upper()}.{file_format}'
             for g in GENDERS}
    paths.update(h36m=out_dir / 'J_regressor_h36m.npy',
                 extra=out_dir / 'J_regressor_extra.npy',
                 coco=out_dir / 'J_regressor_coco.npy',
                 body_parts=out_dir / 'body_parts.npz',
                 mesh_downsampling=out_dir / 'mesh_downsampling.npz',
                 meta=out_dir / 'anny_body.json')
    return paths


def make_anny_body_files(out_dir: Union[str, Path], seed: int = 0,
                         topology: str = source.TOPOLOGIES[0],
                         num_vertices: int = SMPL_VERTICES,
                         levels: Sequence[int] = SMPL_LEVELS,
                         num_samples: int = NUM_SAMPLES,
                         file_format: str = 'pkl', overwrite: bool = False,
                         progress: bool = False) -> Dict[str, Path]:
    """Write the Anny body in MMHuman3D's ``data/body_models/`` layout.

    Files: ``smpl/SMPL_{NEUTRAL,MALE,FEMALE}.{pkl,npz}``,
    ``J_regressor_h36m.npy`` (17, N), ``J_regressor_extra.npy`` (14, N,
    LSP-14 joints), ``J_regressor_coco.npy``
    (17, N), ``body_parts.npz``, ``mesh_downsampling.npz`` (N -> levels)
    and ``anny_body.json`` (provenance and licence). See
    :func:`build_anny_body` for the arguments.

    Raises:
        FileExistsError: One of the files exists and ``overwrite`` is False
            (checked before any work).
    """
    paths = anny_body_paths(out_dir, file_format)
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f'{existing[0]} exists; pass overwrite=True '
                              '(--overwrite) to replace it')
    body = build_anny_body(seed, topology, num_vertices, levels, num_samples,
                           progress)
    write_anny_body_files(body, paths)
    return paths


def write_anny_body_files(body: Dict[str, object],
                          paths: Dict[str, Path]) -> None:
    """Write a :func:`build_anny_body` result to :func:`anny_body_paths`
    (each file atomically; the format follows the model paths' suffix;
    ``mesh_downsampling`` only when ``body['sampler']`` is not None)."""
    paths['neutral'].parent.mkdir(parents=True, exist_ok=True)
    for gender, arrays in body['models'].items():
        if paths[gender].suffix == '.pkl':
            write_file_atomically(paths[gender],
                          lambda f, a=arrays: pickle.dump(a, f, protocol=2))
        else:  # npz: dense regressor, compressed (the zeros take no room)
            dense = dict(arrays, J_regressor=arrays['J_regressor'].toarray())
            write_file_atomically(paths[gender],
                          lambda f, a=dense: np.savez_compressed(f, **a))
    for name in ('h36m', 'coco'):
        write_file_atomically(paths[name], lambda f, a=body[name]: np.save(f, a))
    write_file_atomically(paths['extra'], lambda f: np.save(f, body['lsp14']))
    write_file_atomically(paths['body_parts'], lambda f: np.savez_compressed(
        f, anny_vertex_indices=body['anny_vertex_indices'],
        **body['body_parts']))
    if body['sampler'] is not None:  # a vertex subset may have none
        body['sampler'].save(paths['mesh_downsampling'])
    text = json.dumps(body['meta'], indent=2, sort_keys=True) + '\n'
    write_file_atomically(paths['meta'], lambda f: f.write(text.encode()))


def anny_pose(pose: torch.Tensor, model) -> torch.Tensor:
    """SMPL (B, 72) axis-angle -> (B, K, 4, 4) ``local-ref`` deltas for
    ``model`` (an ``anny.Anny``), the pose the baked body takes for it."""
    groups = rig.bone_groups(model.bone_labels, model.bone_parents)
    return rig.smpl_pose_to_anny(
        pose, rig.top_bones(groups, model.bone_parents),
        len(model.bone_labels))


__all__ = ['build_anny_body', 'make_anny_body_files', 'write_anny_body_files',
           'anny_body_paths', 'anny_pose', 'GENDERS', 'NUM_BETAS']
