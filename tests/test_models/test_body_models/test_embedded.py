"""The embedded Anny body (``pointhmr_mm/models/body_models/embedded.py``)
and ``tools/make_body_model.py --from embedded``.

The archive ships with the package; these tests need no ``anny``, except
the one that re-bakes Anny and compares (skipped without it).
"""

import numpy as np
import pytest
import smplx
import torch

from pointhmr_mm.models.body_models import SMPL, embedded
from pointhmr_mm.models.body_models.embedded import (ARCHIVE,
                                                     load_embedded_body,
                                                     pack_body,
                                                     write_embedded_body)
from pointhmr_mm.models.utils import MeshSampler

from toolbox import load_tool

SMPL_SIZES = (6890, 1723, 431)
SUBSET = 600
MM = 1000.
# A subset keeps the H36M joints near the full body's: its regressors are
# the full ones carried over the barycentric upsampling. Measured at 600
# vertices, rest and three poses of 0.3 rad: 4.2 mm mean, 12.9 mm max
# (1200 vertices: 2.9 / 10.2; 3000: 0.9 / 5.1).
SUBSET_JOINT_MEAN_MM, SUBSET_JOINT_MAX_MM = 6., 20.


@pytest.fixture(scope='module')
def full_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp('embedded_full')
    write_embedded_body(out)
    return out


def _body(folder, gender='neutral'):
    return SMPL(str(folder / 'smpl'), gender=gender, joint_regressors=dict(
        h36m=str(folder / 'J_regressor_h36m.npy')))


def test_whole_body_has_smpl_sizes_and_hierarchy(full_dir):
    sampler = MeshSampler(str(full_dir / 'mesh_downsampling.npz'))
    assert tuple(sampler.num_vertices) == SMPL_SIZES
    for gender in ('neutral', 'male', 'female'):
        body = _body(full_dir, gender)
        assert body.num_vertices == SMPL_SIZES[0]
        assert body.faces.shape == (13776, 3)
    parts = np.load(full_dir / 'body_parts.npz')
    assert parts['smpl24'].shape == (SMPL_SIZES[0], )
    assert 'licence' in (full_dir / 'anny_body.json').read_text()


def test_pickles_load_through_smplx_as_the_project_smpl(tmp_path):
    # smplx.SMPL reads only pickles by path (the pkl format is for it), and
    # picks extra keypoints by SMPL's vertex ids, so the whole body
    write_embedded_body(tmp_path, file_format='pkl')
    ours = _body(tmp_path)
    theirs = smplx.SMPL(str(tmp_path / 'smpl'))
    torch.manual_seed(0)
    pose, betas = torch.randn(2, 72) * 0.3, torch.randn(2, 10)
    with torch.no_grad():
        mine = ours(betas=betas, pose=pose)['vertices']
        ref = theirs(betas=betas, global_orient=pose[:, :3],
                     body_pose=pose[:, 3:]).vertices
    assert torch.allclose(mine, ref, atol=1e-5)


def test_subset_keeps_the_joints_and_stays_convex(full_dir, tmp_path):
    paths = write_embedded_body(tmp_path, num_vertices=SUBSET,
                                levels=(150, 40))
    assert tuple(MeshSampler(str(paths['mesh_downsampling'])).num_vertices
                 ) == (SUBSET, 150, 40)
    for name in ('h36m', 'extra', 'coco'):
        rows = np.load(paths[name])
        assert rows.shape[1] == SUBSET and rows.min() >= 0
        np.testing.assert_allclose(rows.sum(1), 1., atol=1e-9)
    small, whole = _body(tmp_path), _body(full_dir)
    torch.manual_seed(1)
    pose = torch.cat([torch.zeros(1, 72), torch.randn(3, 72) * 0.3])
    betas = torch.randn(4, 10)
    with torch.no_grad():
        err = (small(betas=betas, pose=pose)['h36m'] -
               whole(betas=betas, pose=pose)['h36m']).norm(dim=-1) * MM
    assert err.mean() < SUBSET_JOINT_MEAN_MM and err.max() < \
        SUBSET_JOINT_MAX_MM
    parts = np.load(paths['body_parts'])
    assert parts['smpl24'].shape == parts['anny_vertex_indices'].shape == \
        (SUBSET, )


def test_subset_without_levels_writes_no_hierarchy(tmp_path):
    paths = write_embedded_body(tmp_path, num_vertices=SUBSET)
    assert 'mesh_downsampling' not in paths
    assert not (tmp_path / 'mesh_downsampling.npz').exists()


def test_refuses_to_overwrite_and_bad_sizes(full_dir, tmp_path):
    before = (full_dir / 'smpl' / 'SMPL_NEUTRAL.npz').read_bytes()
    with pytest.raises(FileExistsError, match='SMPL_NEUTRAL|J_regressor'):
        write_embedded_body(full_dir)
    assert (full_dir / 'smpl' / 'SMPL_NEUTRAL.npz').read_bytes() == before
    with pytest.raises(ValueError, match='num_vertices'):
        write_embedded_body(tmp_path / 'a', num_vertices=10)
    with pytest.raises(ValueError, match='num_vertices'):
        write_embedded_body(tmp_path / 'b', num_vertices=7000)
    with pytest.raises(FileNotFoundError, match='missing.npz.*--pack'):
        write_embedded_body(tmp_path / 'c', archive=tmp_path / 'missing.npz')


def test_not_an_archive_is_named(tmp_path):
    bad = tmp_path / 'other.npz'
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(KeyError, match='other.npz.*not an embedded-body'):
        load_embedded_body(bad)


def test_pack_round_trip_is_exact_to_float32():
    body = load_embedded_body()
    again = pack_body(body)
    stored = np.load(ARCHIVE)
    assert sorted(again) == sorted(stored.files)
    for key in stored.files:
        if stored[key].dtype.kind == 'f':
            np.testing.assert_allclose(again[key], stored[key], atol=1e-7)
        else:
            assert (again[key] == stored[key]).all(), key


def test_tool_writes_embedded_subsets(tmp_path):
    tool = load_tool('make_body_model')
    assert tool.main(['--from', 'embedded', str(tmp_path),
                      '--num-vertices', '800']) == 0
    sampler = MeshSampler(str(tmp_path / 'mesh_downsampling.npz'))
    assert tuple(sampler.num_vertices) == (800, 200, 50)  # SMPL's ratios
    assert tool.main(['--from', 'embedded', str(tmp_path),
                      '--num-vertices', '800']) == 1  # exists
    with pytest.raises(SystemExit):  # --pack is for re-baking Anny
        tool.main(['--from', 'embedded', '--pack', str(tmp_path / 'x.npz')])


def test_archive_is_what_the_anny_bake_gives(tmp_path):
    """The shipped file is reproducible: re-baking Anny with the tool's
    defaults (seed 0) gives the same arrays (float32 storage)."""
    pytest.importorskip('anny', reason='needs the optional anny package')
    tool = load_tool('make_body_model')
    fresh = tmp_path / 'fresh.npz'
    assert tool.main(['--from', 'anny', '--pack', str(fresh)]) == 0
    new, old = np.load(fresh), np.load(ARCHIVE)
    assert sorted(new.files) == sorted(old.files)
    for key in old.files:
        if key == 'meta':
            continue
        if key.endswith('/ijv'):  # sparse matrices: compare the matrices
            name = key[:-len('/ijv')]
            difference = embedded._sparse(new, name) - embedded._sparse(
                old, name)
            assert abs(difference).max() < 1e-5, key
        elif old[key].dtype.kind == 'f':
            np.testing.assert_allclose(new[key], old[key], atol=1e-5,
                                       err_msg=key)
        else:
            assert (new[key] == old[key]).all(), key


# ---------------------------------------------------------------------- #
# What the retired mannequin's tests checked, on the embedded body: SMPL's
# frame and file conventions, skinning that moves only the bent limb,
# shape and gender, and replacing files with overwrite=True.
# ---------------------------------------------------------------------- #
ROOT_PARENT = 4294967295  # how SMPL files mark the root's parent
L_HIP, R_HIP, L_SHOULDER, L_ELBOW, L_WRIST, R_WRIST = 1, 2, 16, 18, 20, 21
L_HAND = 22
LEFT_ARM = (L_SHOULDER, L_ELBOW, L_WRIST, L_HAND)  # below the collar
SIZE_BETA = 0
# H36M-17 joints on the body's right (x < 0) and left (x > 0)
H36M_RIGHT, H36M_LEFT, H36M_HEAD_TOP = (1, 2, 3, 14, 15, 16), \
    (4, 5, 6, 11, 12, 13), 10
WEIGHT_SUM_ATOL = 1e-6  # skinning weights are stored as float32


def _arm_length(body):
    joints = body()['joints'][0]
    return (joints[L_SHOULDER] - joints[L_WRIST]).norm().item()


def test_smpl_frame_and_file_conventions(body_model_dir):
    from pointhmr_mm.models.body_models.smpl import load_body_model_arrays
    model = load_body_model_arrays(body_model_dir / 'smpl' /
                                   'SMPL_NEUTRAL.npz')
    verts, joints = model['v_template'], model['J']
    assert model['kintree_table'][0, 0] == ROOT_PARENT
    weights = model['weights']
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(1), 1., atol=WEIGHT_SUM_ATOL)
    assert model['posedirs'].shape == (len(verts), 3, 207)
    assert not np.asarray(model['posedirs']).any()  # plain linear blend
    np.testing.assert_allclose(model['J_regressor'] @ verts, joints)
    assert joints[L_HIP, 0] > 0 > joints[R_HIP, 0]  # x is the body's left
    h36m = np.load(body_model_dir / 'J_regressor_h36m.npy') @ verts
    assert (h36m[list(H36M_RIGHT), 0] < 0).all()
    assert (h36m[list(H36M_LEFT), 0] > 0).all()
    # measured 5 mm below the highest vertex (600 vertices)
    assert h36m[H36M_HEAD_TOP, 1] == pytest.approx(verts[:, 1].max(),
                                                   abs=0.02)


def test_bending_an_elbow_moves_that_arm_only(body_model_dir):
    body = SMPL(str(body_model_dir))
    pose = torch.zeros(2, 72)
    pose[1, 3 * L_ELBOW + 1] = 1.2  # bend the left elbow about y
    with torch.no_grad():
        out = body(pose=pose)
    joints, verts = out['joints'], out['vertices']
    assert (joints[1, L_WRIST] - joints[0, L_WRIST]).norm() > 0.1
    torch.testing.assert_close(joints[1, R_WRIST], joints[0, R_WRIST])
    weights = body.smpl.lbs_weights
    hand = weights[:, [L_WRIST, L_HAND]].sum(1) > 0.9
    untouched = weights[:, list(LEFT_ARM)].sum(1) == 0
    assert hand.any() and untouched.any()
    assert ((verts[1, hand] - verts[0, hand]).norm(dim=-1) > 0.1).all()
    torch.testing.assert_close(verts[1, untouched], verts[0, untouched],
                               atol=1e-6, rtol=0)


def test_size_beta_and_genders(body_model_dir):
    neutral = SMPL(str(body_model_dir))
    betas = torch.zeros(2, 10)
    betas[1, SIZE_BETA] = 1.
    with torch.no_grad():
        verts = neutral(betas=betas)['vertices']
    height = verts[..., 1].amax(1) - verts[..., 1].amin(1)
    assert (height[1] - height[0]).abs() > 0.1  # measured 0.29 m per unit
    male = SMPL(str(body_model_dir), gender='male')
    female = SMPL(str(body_model_dir), gender='female')
    assert torch.equal(male.faces, neutral.faces)
    assert torch.equal(female.faces, neutral.faces)
    # the male template adult is taller (measured arms 53 vs 47 cm)
    assert _arm_length(male) > _arm_length(female) + 0.02


def test_overwrite_replaces_every_file(tmp_path):
    (tmp_path / 'smpl').mkdir()
    (tmp_path / 'J_regressor_h36m.npy').write_bytes(b'old')
    (tmp_path / 'smpl' / 'SMPL_NEUTRAL.npz').write_bytes(b'old')
    paths = write_embedded_body(tmp_path, num_vertices=SUBSET,
                                overwrite=True)
    assert np.load(paths['h36m']).shape == (17, SUBSET)
    assert SMPL(str(paths['neutral'])).num_vertices == SUBSET
    assert not list(tmp_path.rglob('*.tmp'))
