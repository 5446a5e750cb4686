"""A generated stand-in for SMPL: the "mannequin".

SMPL's licence forbids shipping it, so tests, the quick start and users
without a licence use this model instead. It is a closed human-shaped
surface in SMPL's T-pose with SMPL's 24-joint kinematic tree, skinning
weights, 10 shape directions, zero pose correctives and joint regressors,
written in SMPL's file format so the same loader and smplx run it.

Nothing here is fitted to SMPL data: the skeleton and body proportions are
hand-picked round numbers for an adult of about 1.7 m.
"""
import os
import pickle
from pathlib import Path
from typing import Dict, Union

import fast_simplification
import numpy as np
import scipy.sparse as sp
import trimesh
from scipy.optimize import nnls
from skimage.measure import marching_cubes

from pointhmr_mm.utils.keypoints import H36M_TO_J14, SMPL24_PARENTS

# SMPL-24 joint positions in the T-pose, metres, pelvis at the origin (the
# template is moved by PELVIS_POSITION at the end); x is the body's left.
JOINTS = np.array([
    [0.00, 0.00, 0.00], [0.09, -0.08, 0.00], [-0.09, -0.08, 0.00],
    [0.00, 0.11, -0.01], [0.10, -0.48, 0.01], [-0.10, -0.48, 0.01],
    [0.00, 0.24, -0.01], [0.10, -0.88, -0.03], [-0.10, -0.88, -0.03],
    [0.00, 0.31, -0.01], [0.11, -0.95, 0.09], [-0.11, -0.95, 0.09],
    [0.00, 0.50, -0.02], [0.07, 0.42, -0.02], [-0.07, 0.42, -0.02],
    [0.00, 0.60, 0.01], [0.18, 0.44, -0.02], [-0.18, 0.44, -0.02],
    [0.44, 0.44, -0.03], [-0.44, 0.44, -0.03], [0.68, 0.44, -0.03],
    [-0.68, 0.44, -0.03], [0.77, 0.44, -0.03], [-0.77, 0.44, -0.03]
])
# Body parts: (joint a, joint b, radius at a, radius at b), in metres.
CAPSULES = [
    (0, 6, 0.13, 0.13), (6, 12, 0.13, 0.10), (1, 2, 0.10, 0.10),
    (12, 15, 0.05, 0.05), (15, 15, 0.10, 0.10), (13, 16, 0.06, 0.055),
    (14, 17, 0.06, 0.055), (16, 18, 0.05, 0.042), (17, 19, 0.05, 0.042),
    (18, 20, 0.042, 0.033), (19, 21, 0.042, 0.033), (20, 22, 0.035, 0.03),
    (21, 23, 0.035, 0.03), (1, 4, 0.08, 0.055), (2, 5, 0.08, 0.055),
    (4, 7, 0.055, 0.042), (5, 8, 0.055, 0.042), (7, 10, 0.045, 0.035),
    (8, 11, 0.045, 0.035)
]
HEAD_CENTRE_OFFSET = np.array([0., 0.05, 0.])
GRID_STEP = 0.014  # metres between SDF samples
GRID_PADDING = 0.2  # metres of SDF grid beyond the outermost joints
SMOOTH_UNION = 0.02  # metres; blends the parts into one surface
SKIN_SIGMA = 0.035  # metres; width of the blend between bones
SKIN_TOP_K = 4
DECIMATION_TRIES = 6
VERTEX_COUNT_AIM = 0.03  # relative vertex-count error that ends the search
VERTEX_COUNT_TOLERANCE = 0.05  # relative error still accepted after it
REGRESSOR_PER_OCTANT = (6, 12, 24)  # vertices per octant, widened on need
REGRESSOR_RIDGE = 1e-6  # m^2; spreads regressor weights, costs < 1e-5 m
REGRESSOR_TOLERANCE = 1e-4  # metres of joint error accepted
SUM_WEIGHT = 10.  # weight of the sum-to-one row in the regressor fit
GENDER_BETAS = dict(neutral=np.zeros(10),
                    male=np.array([0.8, 0.6, 0.3, 0.2, 0.8, 0, -0.3, -0.4, 0,
                                   0.3]),
                    female=np.array([-0.8, -0.4, -0.3, -0.2, -0.7, 0, 0.2,
                                     0.6, 0, -0.3]))
ROOT_PARENT = np.uint32(4294967295)  # how SMPL files mark the root
# Where the pelvis joint sits in the template: SMPL's is slightly below the
# origin, with the soles near y = -1.15.
PELVIS_POSITION = np.array([0., -0.16, 0.])
RADIUS_JITTER = 0.03  # relative spread of the part radii across seeds
MIN_VERTICES = 200
NUM_POSE_CORRECTIVES = 207  # 23 joints x 9 rotation-matrix entries


def _segment_distance(points, a, b):
    """Distance of (P, 3) points to segment ab and the position t in [0,1]."""
    ab = b - a
    denom = max(float(ab @ ab), 1e-12)
    t = np.clip((points - a) @ ab / denom, 0., 1.)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1), t


def _body_sdf(points, joints, capsules):
    dists = []
    for ja, jb, ra, rb in capsules:
        a, b = joints[ja], joints[jb]
        if ja == jb:  # the head: a sphere above the head joint
            a = b = a + HEAD_CENTRE_OFFSET
        d, t = _segment_distance(points, a, b)
        dists.append(d - (ra + t * (rb - ra)))
    d = np.stack(dists)
    # smooth minimum (log-sum-exp), stable form
    m = d.min(0)
    return m - SMOOTH_UNION * np.log(
        np.exp(-(d - m) / SMOOTH_UNION).sum(0))


def _surface(joints, capsules, num_vertices):
    """Closed surface of the smooth capsule union, decimated to about
    ``num_vertices``: (N, 3) vertices and (F, 3) faces."""
    lo, hi = joints.min(0) - GRID_PADDING, joints.max(0) + GRID_PADDING
    axes = [np.arange(l, h, GRID_STEP) for l, h in zip(lo, hi)]
    grid = np.stack(np.meshgrid(*axes, indexing='ij'), -1)
    sdf = _body_sdf(grid.reshape(-1, 3), joints, capsules).reshape(
        grid.shape[:3])
    verts, faces, _, _ = marching_cubes(sdf, 0., spacing=(GRID_STEP, ) * 3)
    verts = verts + lo
    if num_vertices >= len(verts):
        raise ValueError(f'num_vertices={num_vertices} is more than the '
                         f'{len(verts)} vertices sampled at a '
                         f'{GRID_STEP * 1000:.0f} mm grid step')
    reduction = 1. - num_vertices / len(verts)
    for _ in range(DECIMATION_TRIES):  # aim the reduction at the count
        v, f = fast_simplification.simplify(verts, faces, reduction)
        mesh = trimesh.Trimesh(v, f, process=True)
        mesh = max(mesh.split(only_watertight=False),
                   key=lambda m: len(m.vertices))
        error = len(mesh.vertices) / num_vertices - 1.
        if abs(error) <= VERTEX_COUNT_AIM:
            break
        reduction = min(0.999, 1 - (1 - reduction) / (1 + error))
    if not mesh.is_watertight or abs(error) > VERTEX_COUNT_TOLERANCE:
        raise RuntimeError(
            f'could not make a closed mannequin of {num_vertices} vertices '
            f'(got {len(mesh.vertices)}, closed: {mesh.is_watertight}); try '
            'another num_vertices')
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def _bones(joints):
    """Per joint, the segment it drives: to the mean of its children."""
    children = {j: [] for j in range(24)}
    for j, p in enumerate(SMPL24_PARENTS):
        if p >= 0:
            children[p].append(j)
    bones = []
    for j in range(24):
        kids = children[j]
        end = joints[kids].mean(0) if kids else joints[j] + 0.5 * (
            joints[j] - joints[SMPL24_PARENTS[j]])
        bones.append((joints[j], end))
    return bones


def _skinning_weights(verts, joints):
    dist = np.stack([_segment_distance(verts, a, b)[0]
                     for a, b in _bones(joints)], 1)
    logits = -(dist - dist.min(1, keepdims=True))**2 / SKIN_SIGMA**2
    weights = np.exp(logits)
    keep = np.argsort(-weights, axis=1)[:, :SKIN_TOP_K]
    sparse = np.zeros_like(weights)
    np.put_along_axis(sparse, keep, np.take_along_axis(weights, keep, 1), 1)
    return sparse / sparse.sum(1, keepdims=True)


def _ramp(x, start, length):
    return np.clip((x - start) / length, 0., 1.)


def _shape_directions(verts, joints, weights):
    """Ten (N, 3) displacement fields per unit beta."""
    x, y, z = verts.T
    side = np.sign(x)
    arm = weights[:, [16, 17, 18, 19, 20, 21, 22, 23]].sum(1)
    leg = weights[:, [1, 2, 4, 5, 7, 8, 10, 11]].sum(1)
    bone_of = weights.argmax(1)
    bones = _bones(joints)
    radial = np.zeros_like(verts)
    for j, (a, b) in enumerate(bones):
        idx = bone_of == j
        _, t = _segment_distance(verts[idx], a, b)
        offset = verts[idx] - (a + t[:, None] * (b - a))
        radial[idx] = offset / np.maximum(
            np.linalg.norm(offset, axis=1, keepdims=True), 1e-9)
    dirs = np.zeros((len(verts), 3, 10))
    dirs[:, :, 0] = verts * 0.03  # overall size
    dirs[:, :, 1] = radial * 0.012  # girth
    dirs[:, 0, 2] = side * 0.04 * _ramp(np.abs(x), 0.18, 0.5) * arm  # arms
    dirs[:, 1, 3] = -0.05 * _ramp(-y, 0.08, 0.8) * leg  # legs
    dirs[:, 0, 4] = side * 0.02 * _ramp(np.abs(x), 0.05, 0.13) * (y > 0.3)
    dirs[:, 1, 5] = 0.04 * _ramp(y, 0., 0.5)  # torso length
    dirs[:, 2, 6] = 0.02 * np.exp(-((y - 0.15) / 0.12)**2) * (z > 0)  # belly
    dirs[:, 0, 7] = side * 0.02 * np.exp(-((y + 0.08) / 0.12)**2)  # hips
    head = np.linalg.norm(verts - joints[15] - HEAD_CENTRE_OFFSET, axis=1)
    dirs[:, :, 8] = radial * (0.01 * (head < 0.14))[:, None]  # head size
    dirs[:, :, 9] = radial * (0.008 * (arm + leg))[:, None]  # limb girth
    return dirs


def _regressor_row(verts, target):
    """Non-negative weights over vertices around ``target``, summing to
    one, whose weighted mean reproduces it.

    Joints lie inside the body, often nearer one side of the surface, so
    the plain nearest vertices need not surround them; taking the nearest
    few in each of the 8 octants around the joint does. A small ridge term
    spreads the weight over all of them (as SMPL's regressor is spread),
    instead of the 4 vertices a bare non-negative solve picks.
    """
    offset = verts - target
    octant = (offset > 0) @ np.array([4, 2, 1])
    dist = np.linalg.norm(offset, axis=1)
    for per_octant in REGRESSOR_PER_OCTANT:
        idx = np.concatenate([
            np.flatnonzero(octant == o)[np.argsort(dist[octant == o])
                                        [:per_octant]] for o in range(8)])
        # rows: reproduce xyz; sum to one (weighted strongly); ridge
        system = np.vstack([verts[idx].T, np.full(len(idx), SUM_WEIGHT),
                            np.sqrt(REGRESSOR_RIDGE) * np.eye(len(idx))])
        rhs = np.concatenate([target, [SUM_WEIGHT], np.zeros(len(idx))])
        weights = nnls(system, rhs)[0]
        weights /= weights.sum()
        if np.linalg.norm(weights @ verts[idx] - target) < \
                REGRESSOR_TOLERANCE:
            break
    row = np.zeros(len(verts))
    row[idx] = weights
    return row


def _h36m_regressor(joint_regressor, verts):
    """17 x N regressor in H36M order, built from the SMPL joint rows."""
    rows = {0: [0], 1: [2], 2: [5], 3: [8], 4: [1], 5: [4], 6: [7],
            7: [3, 6], 8: [12], 9: [15], 11: [16], 12: [18], 13: [20],
            14: [17], 15: [19], 16: [21]}
    h36m = np.zeros((17, len(verts)))
    for out, src in rows.items():
        h36m[out] = joint_regressor[src].mean(0)
    top = np.argsort(-verts[:, 1])[:5]  # head top: the highest vertices
    h36m[10, top] = 1. / len(top)
    return h36m


def _neutral_body(num_vertices: int, seed: int) -> Dict[str, np.ndarray]:
    """The neutral surface, skinning, shape space and joint regressor, in
    a pelvis-centred frame (shared by the three genders)."""
    if num_vertices < MIN_VERTICES:
        raise ValueError(f'num_vertices={num_vertices} is too few for a body '
                         f'(at least {MIN_VERTICES})')
    rng = np.random.default_rng(seed)
    capsules = [(a, b, ra * s, rb * s) for (a, b, ra, rb), s in zip(
        CAPSULES, 1 + RADIUS_JITTER * rng.standard_normal(len(CAPSULES)))]
    verts, faces = _surface(JOINTS, capsules, num_vertices)
    weights = _skinning_weights(verts, JOINTS)
    # One regressor for every gender, as joints must follow the shape.
    regressor = np.stack([_regressor_row(verts, j) for j in JOINTS])
    return dict(verts=verts, faces=faces, weights=weights,
                shapedirs=_shape_directions(verts, JOINTS, weights),
                regressor=regressor)


def _gendered_model(body: Dict[str, np.ndarray],
                    gender: str) -> Dict[str, object]:
    """SMPL's pickle keys for one gender of a ``_neutral_body``."""
    verts = body['verts'] + body['shapedirs'] @ GENDER_BETAS[gender] + \
        PELVIS_POSITION
    regressor = body['regressor']
    parents = np.array(SMPL24_PARENTS, dtype=np.int64).astype(np.uint32)
    parents[0] = ROOT_PARENT
    return dict(
        v_template=verts, f=body['faces'].astype(np.uint32),
        weights=body['weights'].copy(),
        kintree_table=np.stack([parents, np.arange(24, dtype=np.uint32)]),
        J_regressor=sp.csc_matrix(regressor), J=regressor @ verts,
        shapedirs=body['shapedirs'].copy(),
        posedirs=np.zeros((len(verts), 3, NUM_POSE_CORRECTIVES)),
        J_regressor_h36m=_h36m_regressor(regressor, verts))


def _check_gender(gender: str) -> None:
    if gender not in GENDER_BETAS:
        raise ValueError(f'gender must be one of {list(GENDER_BETAS)}, got '
                         f'"{gender}"')


def generate_mannequin(num_vertices: int = 3000, seed: int = 0,
                       gender: str = 'neutral') -> Dict[str, object]:
    """Build the mannequin's arrays under SMPL's pickle keys.

    The template stands in SMPL's T-pose, y up, x the body's left, in
    metres: pelvis joint at ``PELVIS_POSITION`` (near the origin), soles
    near y = -1.15, about 1.74 m tall.

    Args:
        num_vertices: Target vertex count (met within a few percent).
        seed: Jitters the body proportions slightly; same seed, same model.
        gender: 'neutral', 'male' or 'female' (a fixed shape offset).

    Returns:
        dict: ``v_template`` (N, 3), ``f`` (F, 3) uint32, ``weights``
        (N, 24) rows summing to 1, ``kintree_table`` (2, 24) with the root's
        parent 4294967295, ``J_regressor`` (24, N) CSC, ``J`` (24, 3),
        ``shapedirs`` (N, 3, 10) metres per unit beta, ``posedirs``
        (N, 3, 207) zeros, ``J_regressor_h36m`` (17, N) in H36M order.
    """
    _check_gender(gender)
    return _gendered_model(_neutral_body(num_vertices, seed), gender)


def make_mannequin_files(out_dir: Union[str, Path], num_vertices: int = 3000,
                         seed: int = 0,
                         overwrite: bool = False) -> Dict[str, Path]:
    """Write the mannequin in MMHuman3D's ``data/body_models/`` layout.

    Files: ``smpl/SMPL_{NEUTRAL,MALE,FEMALE}.pkl`` (protocol 2, plain
    arrays, CSC regressor), ``J_regressor_h36m.npy`` (17, N) and
    ``J_regressor_extra.npy`` (14, N, LSP-14 joints). The genders share
    one surface and regressor; male and female differ by a shape offset.

    Args:
        out_dir: The ``data/body_models`` folder; created if missing.
        num_vertices: Target vertex count of the mesh.
        seed: Passed to :func:`generate_mannequin`.
        overwrite: Replace existing files instead of refusing.

    Returns:
        dict: ``neutral``/``male``/``female``/``h36m``/``extra`` -> path.

    Raises:
        FileExistsError: One of the files exists and ``overwrite`` is False.
    """
    out_dir = Path(out_dir)
    paths = {g: out_dir / 'smpl' / f'SMPL_{g.upper()}.pkl'
             for g in GENDER_BETAS}
    paths['h36m'] = out_dir / 'J_regressor_h36m.npy'
    paths['extra'] = out_dir / 'J_regressor_extra.npy'
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f'{existing[0]} exists; pass overwrite=True '
                              '(--overwrite) to replace it')
    body = _neutral_body(num_vertices, seed)
    (out_dir / 'smpl').mkdir(parents=True, exist_ok=True)
    for gender in GENDER_BETAS:
        model = _gendered_model(body, gender)
        h36m = model.pop('J_regressor_h36m')
        _write_atomic(paths[gender],
                      lambda f, m=model: pickle.dump(m, f, protocol=2))
        if gender == 'neutral':
            _write_atomic(paths['h36m'], lambda f: np.save(f, h36m))
            _write_atomic(paths['extra'],
                          lambda f: np.save(f, h36m[list(H36M_TO_J14)]))
    return paths


def _write_atomic(path: Path, write) -> None:
    """Write through a temporary file so an interrupted run leaves no
    truncated model behind."""
    tmp = path.with_name(path.name + '.tmp')
    with open(tmp, 'wb') as f:
        write(f)
    os.replace(tmp, path)
