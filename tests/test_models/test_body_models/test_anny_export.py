"""The Anny body baked into SMPL's format (tools/make_body_model.py).

The helpers (grouping, frames, PCA, convex fits) are tested on synthetic
data; everything that runs Anny is skipped where ``anny`` (the optional
extra ``pip install -e .[anny]``) is not installed. Anny's first build of
its topology takes about a minute and is cached in ``ANNY_CACHE_DIR``.

Tolerances against Anny's own output (measured: see each test) are on the
template adults of the three files, float32 smplx against float64 Anny.
"""
import socket
import sys

import numpy as np
import pytest
import roma
import scipy.sparse as sp
import smplx
import torch
import trimesh
from smplx.utils import Struct

from pointhmr_mm.models.body_models import SMPL, load_body_model_arrays
from pointhmr_mm.models.body_models.anny import (anny_body_paths, anny_pose,
                                                 build_anny_body,
                                                 write_anny_body_files)
from pointhmr_mm.models.body_models.anny import regressors, rig, source
from pointhmr_mm.models.body_models.anny.shape_space import shape_space
from pointhmr_mm.models.utils import MeshSampler
from pointhmr_mm.utils.keypoints import SMPL24_NAMES, SMPL24_PARENTS

from toolbox import load_tool

NUM_SAMPLES = 30  # phenotypes per gender; the tool's default is 200
HANDS_FEET = (10, 11, 22, 23)
L_ELBOW = 18
MM = 1000.


# ---------------------------------------------------------------- helpers
def _toy_rig():
    """A rig with Anny's naming: two bones per SMPL joint, the second a
    child of the first; the first of joint j hangs from the parent's
    second (the root's from nothing)."""
    names, parents = [], []
    sided = dict(hip='upperleg0{}', knee='lowerleg0{}', ankle='foot',
                 foot='toe1-{}', collar='clavicle', shoulder='upperarm0{}',
                 elbow='lowerarm0{}', wrist='wrist', hand='finger2-{}')
    central = dict(pelvis=('root', 'spine05'), spine1=('spine03', ),
                   spine2=('spine02', ), spine3=('spine01', ),
                   neck=('neck01', 'neck02'), head=('head', 'eye.L'))
    second = {}
    for j, joint in enumerate(SMPL24_NAMES):
        side, _, part = joint.partition('_')
        if part in sided:
            tag = '.L' if side == 'left' else '.R'
            bones = [sided[part].format(i) + tag for i in (1, 2)]
            if '{}' not in sided[part]:  # one bone of that name a side
                bones = [bones[0]]
        else:
            bones = list(central[joint])
        parent = -1 if j == 0 else second[SMPL24_PARENTS[j]]
        for bone in bones:
            names.append(bone)
            parents.append(parent)
            parent = len(names) - 1
        second[j] = len(names) - 1
    return names, parents


def test_bone_groups_follow_smpl_tree():
    names, parents = _toy_rig()
    groups = rig.bone_groups(names, parents)
    assert [SMPL24_NAMES[g] for g in groups[:3]] == ['pelvis', 'pelvis',
                                                     'left_hip']
    tops = rig.top_bones(groups, parents)
    assert all(len(t) == 1 for t in tops)
    assert names[tops[18][0]] == 'lowerarm01.L'


def test_bone_groups_reject_unknown_bones_and_wrong_parents():
    names, parents = _toy_rig()
    with pytest.raises(ValueError, match='"tail01" matches 0 SMPL joints'):
        rig.bone_groups(names + ['tail01'], parents + [0])
    bad = list(parents)
    bad[names.index('lowerarm01.L')] = names.index('upperleg02.L')
    with pytest.raises(ValueError, match='not its SMPL parent'):
        rig.bone_groups(names, bad)


def test_group_skinning_weights_sum_per_joint():
    groups = np.array([0, 0, 1, 2] + list(range(3, 24)))
    weights = np.array([[0.5, 0.25, 0.25], [1., 0., 0.]])
    indices = np.array([[0, 1, 2], [3, 0, 1]])
    out = rig.group_skinning_weights(weights, indices, groups)
    np.testing.assert_allclose(out[0, :2], [0.75, 0.25])
    np.testing.assert_allclose(out[1, 2], 1.)
    np.testing.assert_allclose(out.sum(1), 1.)


def test_pose_maps_as_swapped_axis_angle():
    """A delta C^T R C in Anny's frame is R in SMPL's frame."""
    theta = torch.tensor([[0.3, -0.5, 0.8]], dtype=torch.float64)
    pose = torch.zeros(1, 72, dtype=torch.float64)
    pose[:, 3 * L_ELBOW:3 * L_ELBOW + 3] = theta
    tops = [np.array([j]) for j in range(24)]
    deltas = rig.smpl_pose_to_anny(pose, tops, num_bones=24)
    assert deltas.shape == (1, 24, 4, 4)
    eye = torch.eye(4, dtype=torch.float64)
    assert torch.equal(deltas[0, 0], eye) and torch.equal(deltas[0, 17], eye)
    point_anny = np.array([0.2, -0.1, 0.7])
    rotated = deltas[0, L_ELBOW, :3, :3].numpy() @ point_anny
    smpl_rot = roma.rotvec_to_rotmat(theta)[0].numpy()
    np.testing.assert_allclose(
        rig.to_smpl_frame(rotated) - rig.ROOT_POSITION,
        smpl_rot @ (rig.to_smpl_frame(point_anny) - rig.ROOT_POSITION),
        atol=1e-12)
    with pytest.raises(ValueError, match=r'pose must be \(B, 72\)'):
        rig.smpl_pose_to_anny(pose[:, :69], tops, 24)


def test_frame_change_is_a_rotation_to_y_up():
    assert np.allclose(rig.AXIS_SWAP @ rig.AXIS_SWAP.T, np.eye(3))
    assert np.isclose(np.linalg.det(rig.AXIS_SWAP), 1.)
    up, forward = rig.to_smpl_frame(np.array([[0, 0, 1.], [0, -1., 0]]))
    np.testing.assert_allclose(up - rig.ROOT_POSITION, [0, 1, 0])
    np.testing.assert_allclose(forward - rig.ROOT_POSITION, [0, 0, 1])


def test_shape_space_recovers_a_linear_family():
    rng = np.random.default_rng(0)
    template = rng.normal(size=(50, 3))
    basis = rng.normal(size=(3, 50, 3))
    codes = rng.normal(size=(40, 3)) * [3., 2., 1.]
    samples = template + np.einsum('sk,kvc->svc', codes, basis)
    dirs, betas, explained = shape_space(samples, template, num_betas=3)
    assert dirs.shape == (50, 3, 3) and betas.shape == (40, 3)
    np.testing.assert_allclose(explained, 1.)
    np.testing.assert_allclose(template + np.einsum('vck,sk->svc', dirs,
                                                    betas), samples,
                               atol=1e-9)
    # SMPL-like scale: unit mean square about the template
    np.testing.assert_allclose((betas**2).mean(0), 1.)
    with pytest.raises(ValueError, match='cannot give 3'):
        shape_space(samples[:3], template, num_betas=3)
    with pytest.raises(ValueError, match='samples must be'):
        shape_space(samples[:, :10], template, num_betas=3)


def test_shape_space_signs_do_not_follow_the_eigensolver(monkeypatch):
    """Directions come out the same whatever signs the eigensolver picks
    (here provoked by reordering the samples), also for a mirror-symmetric
    body whose largest entries are tied between mirrored vertices: such a
    tie flipped directions between machines under a largest-entry rule."""
    rng = np.random.default_rng(2)
    half = rng.normal(size=(25, 3))
    template = np.concatenate([half, half * [-1, 1, 1]])  # mirrored in x
    basis = rng.normal(size=(3, 25, 3)) * [0.1, 1, 1]
    # antisymmetric directions: each vertex's mirror moves by the negated
    # mirror image of its motion, so the largest (y, z) entries are tied
    # in magnitude and opposite in sign between mirrored vertices
    basis = np.concatenate([basis, basis * [1, -1, -1]], axis=1)
    codes = rng.normal(size=(40, 3)) * [3., 2., 1.]
    samples = template + np.einsum('sk,kvc->svc', codes, basis)
    dirs, betas, _ = shape_space(samples, template, num_betas=3)
    # rounding-level differences (another machine's BLAS) break the ties
    # either way; reordering the samples changes the eigensolver's signs
    for seed in range(4):
        noise = np.random.default_rng(seed).normal(size=samples.shape)
        order = np.random.default_rng(seed).permutation(len(samples))
        dirs2, betas2, _ = shape_space((samples + 1e-11 * noise)[order],
                                       template, num_betas=3)
        np.testing.assert_allclose(dirs2, dirs, atol=1e-8)
        np.testing.assert_allclose(betas2, betas[order], atol=1e-7)
    # and against flipped eigenvectors directly
    eigh = np.linalg.eigh
    monkeypatch.setattr(np.linalg, 'eigh',
                        lambda a: (lambda w, v: (w, -v))(*eigh(a)))
    dirs3, _, _ = shape_space(samples, template, num_betas=3)
    np.testing.assert_allclose(dirs3, dirs, atol=1e-12)


def test_convex_row_follows_a_point_across_shapes():
    rng = np.random.default_rng(1)
    base = rng.uniform(-1, 1, (60, 3))
    scales = rng.uniform(0.8, 1.2, (5, 1, 3))
    meshes = base * scales  # the origin stays inside every shape's hull
    row = regressors.fit_convex_row(meshes, np.zeros((5, 3)),
                                    np.arange(60), np.ones(5))
    assert row.min() >= 0 and np.isclose(row.sum(), 1.)
    assert np.abs(np.einsum('v,svc->sc', row, meshes)).max() < 1e-3


def test_transfer_keeps_rows_convex():
    up = sp.csr_matrix(np.array([[1., 0.], [0.5, 0.5], [-1e-18, 1.]]))
    rows = np.array([[0.2, 0.3, 0.5]])
    moved = regressors.transfer_regressor(rows, up)
    assert moved.min() >= 0
    np.testing.assert_allclose(moved, [[0.35, 0.65]])


def test_bad_sizes_are_refused_before_anny_runs(monkeypatch):
    monkeypatch.setitem(sys.modules, 'anny', None)  # would fail later
    with pytest.raises(ValueError, match='cannot give 10 shape directions'):
        build_anny_body(num_samples=10)
    with pytest.raises(ValueError, match=r'decreasing vertex counts.*'
                       r'\[6890, 431, 1723\]'):
        build_anny_body(levels=(431, 1723))


def test_tool_refuses_existing_files_before_any_work(tmp_path, capsys):
    paths = anny_body_paths(tmp_path)
    paths['h36m'].write_bytes(b'keep')
    assert load_tool('make_body_model').main(
        ['--from', 'anny', str(tmp_path)]) == 1
    assert paths['h36m'].read_bytes() == b'keep'
    with pytest.raises(ValueError, match='file_format must be one of'):
        anny_body_paths(tmp_path, 'obj')


def test_tool_explains_missing_anny(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'anny', None)  # import anny fails
    with pytest.raises(ImportError, match=r"pip install -e '\.\[anny\]'"):
        source.require_anny()
    assert load_tool('make_body_model').main(
        ['--from', 'anny', str(tmp_path / 'b')]) == 1
    assert not (tmp_path / 'b').exists()


# ------------------------------------------------------------- with Anny
@pytest.fixture(scope='session')
def anny_model():
    pytest.importorskip('anny', reason='anny is optional: pip install -e '
                        "'.[anny]'")
    return source.load_anny()


def _blocked(*args, **kwargs):
    raise OSError('network access is blocked in this test')


@pytest.fixture(scope='session')
def anny_body(anny_model, tmp_path_factory):
    """The tool's files at SMPL's sizes (6890 -> 1723 -> 431), made by its
    command line with every socket connection refused; (folder, attempted
    connections). On a fresh machine this includes Anny's first build."""
    out = tmp_path_factory.mktemp('anny_body')
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        _blocked()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, 'create_connection', refuse)
        patch.setattr(socket.socket, 'connect', refuse)
        patch.setattr(socket.socket, 'connect_ex', refuse)
        patch.setattr(socket, 'getaddrinfo', refuse)
        assert load_tool('make_body_model').main(
            ['--from', 'anny', str(out), '--seed', '0', '--samples',
             str(NUM_SAMPLES)]) == 0
    return out, attempts


def test_generation_makes_no_network_access(anny_body):
    out, attempts = anny_body
    assert attempts == []
    assert all(p.is_file() for p in anny_body_paths(out).values())


def _anny_vertices(model, out, gender, pose):
    """Anny's own (B, 6890, 3) vertices, SMPL frame, template phenotype."""
    selection = np.load(out / 'body_parts.npz')['anny_vertex_indices']
    phenotype = {k: np.repeat(v, len(pose)) for k, v in
                 source.template_phenotype(gender).items()}
    deltas = anny_pose(torch.as_tensor(pose, dtype=torch.float64), model)
    meshes = source.reference_meshes(model, phenotype, pose=deltas)
    return rig.to_smpl_frame(meshes['vertices'][:, selection])


def _poses(kind, rng, batch=6):
    pose = np.zeros((batch, 72))
    if kind == 'elbow':
        pose[:, 3 * L_ELBOW + 1] = -np.linspace(0.3, 2.0, batch)
    elif kind in ('moderate', 'all'):
        pose = rng.normal(0., 0.3, (batch, 72))
        if kind == 'moderate':
            pose[:, :3] = rng.normal(0., 1., (batch, 3))
            for joint in HANDS_FEET:
                pose[:, 3 * joint:3 * joint + 3] = 0.
    return pose


# Mean and max vertex error (mm) allowed against Anny for each pose kind;
# measured on the three templates (seed 0, 30 samples): rest 0.000 / 0.00,
# left elbow bent 0.3-2 rad 0.07-0.09 / 0.8-2.0, moderate (sd 0.3 rad, any
# root, hands and feet fixed) 0.5-0.8 / 2.1-5.8, all 24 joints 3.6-4.0 /
# 46-49 (Anny turns each toe and finger about its own bone, the baked body
# about one pivot per hand or foot).
TOLERANCES_MM = dict(rest=(0.01, 0.1), elbow=(0.5, 5.), moderate=(1.5, 15.),
                     all=(6., 60.))


@pytest.mark.parametrize('gender', ['neutral', 'male', 'female'])
def test_posed_vertices_match_anny(anny_model, anny_body, gender):
    out, _ = anny_body
    body = SMPL(out / 'smpl', gender=gender)
    rng = np.random.default_rng(7)
    for kind, (mean_mm, max_mm) in TOLERANCES_MM.items():
        pose = _poses(kind, rng)
        ours = body(pose=torch.as_tensor(pose, dtype=torch.float32))
        error = np.linalg.norm(
            ours['vertices'].double().numpy() -
            _anny_vertices(anny_model, out, gender, pose), axis=-1) * MM
        assert error.mean() < mean_mm and error.max() < max_mm, (
            f'{gender} {kind}: {error.mean():.2f} mm mean, '
            f'{error.max():.1f} mm max')


# Held-out adults (betas by least squares on the shape directions); the
# baked pivots follow other shapes less closely than the templates' (the
# knee slides with height in Anny). Measured (seed 0, 30 samples): rest
# 0.8-1.4 / 7-17, moderate 5.7-7.3 / 37-41.
HELD_OUT_MM = dict(rest=(2.5, 30.), moderate=(10., 70.))


@pytest.mark.parametrize('gender', ['neutral', 'female'])
def test_shape_space_covers_held_out_adults(anny_model, anny_body, gender):
    out, _ = anny_body
    body = SMPL(out / 'smpl', gender=gender)
    selection = np.load(out / 'body_parts.npz')['anny_vertex_indices']
    phenotypes = source.sample_phenotypes(gender, 6,
                                          np.random.default_rng(99))
    for kind, (mean_mm, max_mm) in HELD_OUT_MM.items():
        pose = _poses(kind, np.random.default_rng(5))
        deltas = anny_pose(torch.as_tensor(pose), anny_model)
        meshes = source.reference_meshes(anny_model, phenotypes,
                                         pose=deltas)['vertices'][:, selection]
        expected = rig.to_smpl_frame(meshes)
        if kind == 'rest':
            dirs = body.smpl.shapedirs.double().numpy().reshape(-1, 10)
            offsets = expected.reshape(len(pose), -1) - \
                body.v_template.double().numpy().reshape(-1)
            betas = torch.as_tensor(np.linalg.lstsq(
                dirs, offsets.T, rcond=None)[0].T, dtype=torch.float32)
        ours = body(betas=betas, pose=torch.as_tensor(pose,
                                                      dtype=torch.float32))
        error = np.linalg.norm(ours['vertices'].double().numpy() - expected,
                               axis=-1) * MM
        assert error.mean() < mean_mm and error.max() < max_mm, (
            f'{gender} {kind}: {error.mean():.2f} mm mean, '
            f'{error.max():.1f} mm max')


@pytest.fixture(scope='module')
def small_body(anny_model):
    """A quick build: 1500 vertices, one coarser level, 12 samples."""
    return build_anny_body(seed=0, num_samples=12, num_vertices=1500,
                           levels=(400, ))


def test_files_load_through_smplx(anny_model, anny_body, small_body,
                                  tmp_path):
    out, _ = anny_body
    expected = _anny_vertices(anny_model, out, 'female', np.zeros((1, 72)))
    by_path = smplx.SMPL(model_path=str(out / 'smpl'), gender='female')
    rest = by_path(betas=torch.zeros(1, 10)).vertices.detach().numpy()
    assert np.abs(rest - expected).max() < 1e-4
    # npz: the project's SMPL reads it by path, smplx from its arrays
    paths = anny_body_paths(tmp_path, 'npz')
    write_anny_body_files(small_body, paths)
    ours = SMPL(tmp_path / 'smpl', gender='male')
    assert ours.model_file == paths['male'] and ours.num_vertices == 1500
    arrays = dict(np.load(paths['male']))
    via_struct = smplx.SMPL(model_path='', data_struct=Struct(**arrays))
    # smplx's extra joints are fixed SMPL vertex ids, beyond 1500 vertices
    via_struct.vertex_joint_selector.extra_joints_idxs = torch.zeros(
        0, dtype=torch.long)
    pose = torch.as_tensor(_poses('moderate', np.random.default_rng(0), 2),
                           dtype=torch.float32)
    torch.testing.assert_close(
        ours(pose=pose)['vertices'],
        via_struct(global_orient=pose[:, :3], body_pose=pose[:, 3:],
                   betas=torch.zeros(2, 10)).vertices.detach())
    # compressed: the zero pose correctives take no room
    pkl = out / 'smpl' / 'SMPL_MALE.pkl'
    assert paths['male'].stat().st_size / 1500 < \
        0.25 * pkl.stat().st_size / 6890
    assert MeshSampler(paths['mesh_downsampling']).num_vertices == [1500,
                                                                    400]


def test_same_seed_same_body(anny_model, small_body):
    kwargs = dict(num_samples=12, num_vertices=1500, levels=(400, ))
    again, other = build_anny_body(seed=0, **kwargs), build_anny_body(
        seed=1, **kwargs)
    for gender in ('neutral', 'female'):
        for key in ('v_template', 'weights', 'shapedirs', 'f'):
            np.testing.assert_array_equal(small_body['models'][gender][key],
                                          again['models'][gender][key])
        assert not np.allclose(small_body['models'][gender]['shapedirs'],
                               other['models'][gender]['shapedirs'])
    np.testing.assert_array_equal(small_body['h36m'], again['h36m'])
    # the template is the chosen phenotype, whatever the seed
    np.testing.assert_array_equal(
        small_body['models']['male']['v_template'],
        other['models']['male']['v_template'])


def test_body_is_closed_and_smpl_sized(anny_body):
    out, _ = anny_body
    data = load_body_model_arrays(out / 'smpl' / 'SMPL_NEUTRAL.pkl')
    verts, faces = data['v_template'], data['f']
    assert verts.shape == (6890, 3)
    assert trimesh.Trimesh(verts, faces, process=False).is_watertight
    assert MeshSampler(out / 'mesh_downsampling.npz').num_vertices == [
        6890, 1723, 431]
    assert not np.any(data['posedirs'])
    np.testing.assert_allclose(data['weights'].sum(1), 1., atol=1e-12)
    # an adult standing like SMPL: y up, pelvis near the origin, ~1.8 m
    assert 1.6 < np.ptp(verts[:, 1]) < 2.0
    assert np.abs(data['J'][0] - rig.ROOT_POSITION).max() < 0.01
    # mirror-symmetric about x = 0, so SMPL's pose flip mirrors the mesh
    # (measured 3.2 mm: the decimation is not symmetric)
    assert _surface_distance(verts * [-1., 1., 1.], verts, faces).max() < \
        0.005


def _surface_distance(points, verts, faces, candidates=16):
    """(P,) distance of each point to the mesh, over the faces with the
    nearest centroids (trimesh's exact query needs rtree)."""
    from scipy.spatial import cKDTree
    triangles = verts[faces]
    _, near = cKDTree(triangles.mean(1)).query(points, k=candidates)
    closest = trimesh.triangles.closest_point(
        triangles[near.ravel()], np.repeat(points, candidates, axis=0))
    return np.linalg.norm(closest - np.repeat(points, candidates, axis=0),
                          axis=1).reshape(-1, candidates).min(1)


def test_regressors_convex_and_placed(anny_model, anny_body):
    out, _ = anny_body
    body = SMPL(out / 'smpl', joint_regressors=dict(
        h36m=out / 'J_regressor_h36m.npy', coco=out / 'J_regressor_coco.npy',
        lsp=out / 'J_regressor_extra.npy'))
    kinematic = body.smpl.J_regressor.double().numpy()
    for name, rows in dict(kinematic=kinematic, h36m=body.regressor_h36m,
                           coco=body.regressor_coco,
                           lsp=body.regressor_lsp).items():
        rows = np.asarray(rows, dtype=np.float64)
        assert rows.min() >= 0, name
        np.testing.assert_allclose(rows.sum(1), 1., atol=1e-5, err_msg=name)
    rest = body()
    h36m, coco = rest['h36m'][0].numpy(), rest['coco'][0].numpy()
    assert (h36m[[4, 5, 6, 11, 12, 13], 0] > 0.05).all()  # left side: x > 0
    assert (h36m[[1, 2, 3, 14, 15, 16], 0] < -0.05).all()
    assert h36m[10, 1] > h36m[9, 1] + 0.08  # head top above the head joint
    # COCO: Anny's own keypoints (full Anny mesh) moved onto 6890 vertices
    selection = np.load(out / 'body_parts.npz')['anny_vertex_indices']
    mesh = source.reference_meshes(
        anny_model, source.template_phenotype('neutral'))['vertices'][0]
    anny_coco = rig.to_smpl_frame(regressors.anny_coco_rows(anny_model) @
                                  mesh)
    assert np.linalg.norm(coco - anny_coco, axis=1).max() < 0.001  # 0.24 mm
    # the kinematic joints are Anny's pivots on the template (measured at
    # most 2.7 mm, at the knees; the fit also follows the other shapes)
    pivots = rig.to_smpl_frame(rig.group_pivots(
        source.reference_meshes(anny_model, source.template_phenotype(
            'neutral'))['bone_heads'][0], rig.top_bones(
                rig.bone_groups(anny_model.bone_labels,
                                anny_model.bone_parents),
                anny_model.bone_parents)))
    assert np.linalg.norm(kinematic @ rig.to_smpl_frame(
        mesh[selection]) - pivots, axis=1).max() < 0.004


def test_body_part_labels(anny_model, anny_body):
    from anny.face_segmentation import get_face_segmentation_mask
    out, _ = anny_body
    parts = dict(np.load(out / 'body_parts.npz'))
    names = list(parts['anny_uv_names'])
    assert parts['smpl24'].shape == parts['anny_uv'].shape == (6890, )
    assert list(parts['smpl24_names']) == list(SMPL24_NAMES)
    hand = parts['anny_uv'] == names.index('hand.L')
    assert hand.sum() > 100
    assert np.isin(parts['smpl24'][hand], [20, 22]).mean() > 0.9
    # the UV lookup reads Anny's segmentation as Anny's own function does
    faces = np.asarray(anny_model.faces)
    mask = np.asarray(get_face_segmentation_mask(anny_model, ['foot.R']))
    right_foot = np.zeros(len(anny_model.template_vertices), dtype=bool)
    right_foot[np.unique(faces[mask])] = True
    np.testing.assert_array_equal(
        parts['anny_uv'] == names.index('foot.R'),
        right_foot[parts['anny_vertex_indices']])
