import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from pointhmr_mm.models.utils import MeshSampler
from pointhmr_mm.registry import TASK_UTILS
from pointhmr_mm.utils.safe_pickle import load_npz

from toolbox.graphcmr import write_graphcmr_file


@pytest.fixture(scope='module')
def sampler(mesh_sampler_file):
    return MeshSampler(str(mesh_sampler_file))


def test_d_times_u_is_identity(sampler):
    mats = sampler.matrices()
    for up, down in zip(mats['U'], mats['D']):
        np.testing.assert_allclose((down @ up).toarray(),
                                   np.eye(down.shape[0]), atol=1e-6)


def test_coarse_vertices_are_a_subset(sampler, body_model_dir):
    from pointhmr_mm.models.body_models import SMPL
    verts = SMPL(str(body_model_dir)).v_template
    coarse = sampler.downsample(verts)
    assert (coarse[:, None] == verts[None]).all(-1).any(1).all()


def test_smooth_field_survives_down_and_up(sampler, body_model_dir):
    from pointhmr_mm.models.body_models import SMPL
    verts = SMPL(str(body_model_dir)).v_template
    field = torch.stack([verts[:, 0] * 2 + verts[:, 1],
                         torch.sin(2 * verts[:, 1])], dim=1)
    restored = sampler.upsample(sampler.downsample(field[None]))[0]
    # the coarse surface lies within 1.1 cm of the fine one on average and
    # 7.6 cm at most (fingertips of the 150-vertex level; measured), and
    # the field changes by at most ~2.3 per metre (measured: 0.012 mean,
    # 0.13 max)
    assert (restored - field).abs().max() < 0.2
    assert (restored - field).abs().mean() < 0.02


def test_gather_equals_dense_matrix(sampler):
    mats = sampler.matrices()
    x = torch.randn(2, sampler.num_vertices[-1], 3)
    dense = x
    for up in reversed(mats['U']):
        dense = torch.einsum('nm,bmc->bnc',
                             torch.from_numpy(up.toarray()).float(), dense)
    torch.testing.assert_close(sampler.upsample(x), dense)
    levels = sampler.upsample_all(x)
    assert [v.shape[1] for v in levels] == sampler.num_vertices[::-1]


def test_khop_sets_symmetric_and_nested(sampler):
    masks = [sampler.khop_mask(-1, k) for k in (1, 3, 5, 7)]
    for small, big in zip(masks, masks[1:]):
        assert torch.equal(small, small.T)
        assert (big | ~small).all() and big.sum() > small.sum()
    assert masks[0].diagonal().all()
    adj = torch.from_numpy(sampler.adjacency(-1).toarray() > 0)
    assert torch.equal(masks[0], adj | torch.eye(len(adj), dtype=torch.bool))


def write_graphcmr_npz(path, sampler, break_d=False, **kwargs):
    """The users' file layout (see ``graphcmr_helpers``), optionally with
    one D row that selects two vertices."""
    mats = sampler.matrices()
    if break_d:
        d = mats['D'][0].tolil()
        d[0, 1] = 1.
        mats['D'][0] = d.tocsr()
    return write_graphcmr_file(path, mats, **kwargs)


def test_graphcmr_file_with_real_properties_loads(tmp_path, sampler):
    path = tmp_path / 'mesh_downsampling.npz'
    ups = write_graphcmr_npz(path, sampler)
    # the fixture carries the real file's properties ...
    for up in ups:
        sums = np.asarray(up.sum(1)).ravel()
        assert (np.abs(sums - 1.) > 1e-3).sum() > 10
        assert up.data.min() < -0.5
        assert set(np.diff(up.tocsr().indptr)) == {3}
    raw = load_npz(path, skip_keys=('M', ))
    assert raw['F'][0].dtype == np.uint32 and raw['A'][0].data.max() == 2.
    with zipfile.ZipFile(path) as archive:
        assert b'psbody' in archive.read('M.npy')
    # ... and loads; upsampling is exactly U @ x, level by level
    loaded = MeshSampler(str(path))
    assert loaded.num_vertices == sampler.num_vertices
    assert loaded.faces(-1).shape[1] == 3
    assert loaded.faces(0).dtype == np.int64
    x = torch.randn(2, 150, 3, dtype=torch.float64)
    # the sampler keeps U's weights in float32: float32 rounding of them
    tol = dict(rtol=1e-6, atol=1e-6)
    expected = np.einsum('fc,bcd->bfd', ups[1].toarray(), x.numpy())
    torch.testing.assert_close(loaded.upsample(x, 2, 1),
                               torch.from_numpy(expected), **tol)
    expected = np.einsum('fc,bcd->bfd', ups[0].toarray(), expected)
    torch.testing.assert_close(loaded.upsample(x), torch.from_numpy(expected),
                               **tol)
    # A's stored 2s are edges: the graph (and so the masks) is unchanged
    assert np.array_equal(loaded.adjacency(1).toarray(),
                          sampler.adjacency(1).toarray())
    assert torch.equal(loaded.khop_mask(-1, 3), sampler.khop_mask(-1, 3))


def test_broken_files_are_reported(tmp_path, sampler):
    path = tmp_path / 'broken.npz'
    write_graphcmr_npz(path, sampler, break_d=True)
    with pytest.raises(ValueError, match="broken.npz: key 'D' level 0"):
        MeshSampler(str(path))
    np.savez(tmp_path / 'nokeys.npz', F=np.zeros(1))
    with pytest.raises(KeyError, match="nokeys.npz has no key 'A'"):
        MeshSampler(str(tmp_path / 'nokeys.npz'))
    with pytest.raises(ValueError, match='exactly one'):
        MeshSampler()


def with_changed(sampler, key, level, matrix):
    mats = sampler.matrices()
    mats[key][level] = matrix
    return mats


def test_bad_matrices_name_key_and_level(sampler):
    mats = sampler.matrices()
    up = mats['U'][1].tolil()
    up[0, :4] = 0.25  # four parents: not a point on one triangle
    with pytest.raises(ValueError, match="key 'U' level 1 must have 1 to 3"):
        MeshSampler(matrices=with_changed(sampler, 'U', 1, up.tocsr()))
    up = mats['U'][0].tolil()
    up[5] = 0
    with pytest.raises(ValueError, match="key 'U' level 0 must have 1 to 3"):
        MeshSampler(matrices=with_changed(sampler, 'U', 0, up.tocsr()))
    up = mats['U'][0] * 2.  # no longer inverts D
    with pytest.raises(ValueError, match="keys 'D' and 'U' level 0: D @ U "
                       'must be the identity'):
        MeshSampler(matrices=with_changed(sampler, 'U', 0, up))
    up = mats['U'][1].tolil()
    up[3, up.rows[3][0]] = np.nan
    with pytest.raises(ValueError, match="key 'U' level 1 has non-finite"):
        MeshSampler(matrices=with_changed(sampler, 'U', 1, up.tocsr()))
    with pytest.raises(ValueError, match="key 'D' level 1 must be a 2D "
                       'numeric'):
        MeshSampler(matrices=with_changed(sampler, 'D', 1, 'not a matrix'))
    adj = mats['A'][2].tolil()
    adj[0, 5] = 1. - adj[0, 5]  # one direction only
    with pytest.raises(ValueError, match="key 'A' level 2 must be symm"):
        MeshSampler(matrices=with_changed(sampler, 'A', 2, adj.tocsr()))
    adj = mats['A'][1] + sp.eye(mats['A'][1].shape[0])
    with pytest.raises(ValueError, match="key 'A' level 1 must have no self"):
        MeshSampler(matrices=with_changed(sampler, 'A', 1, adj))
    with pytest.raises(ValueError, match="key 'D' level 0 is"):
        MeshSampler(matrices=with_changed(sampler, 'D', 0, mats['D'][1]))
    faces = mats['F'][2].copy()
    faces[0, 0] = sampler.num_vertices[2]
    with pytest.raises(ValueError, match="key 'F' level 2 indexes outside"):
        MeshSampler(matrices=with_changed(sampler, 'F', 2, faces))
    mats['U'] = mats['U'][:1]
    with pytest.raises(ValueError, match='one U and one D per level'):
        MeshSampler(matrices=mats)


def test_construction_api_and_buffers(sampler):
    mats = sampler.matrices()
    again = MeshSampler.from_matrices(mats['A'], mats['U'], mats['D'],
                                      mats['F'])
    assert again.num_vertices == sampler.num_vertices
    assert sampler.num_vertices[1:] == [300, 150]
    for level in range(2):
        assert sampler.faces(level).shape[1] == 3
    # topology comes from the file, never from checkpoints
    assert sampler.state_dict() == {}
    names = dict(sampler.named_buffers())
    assert names['down_index_1'].shape == (150, )
    assert names['up_index_0'].shape == names['up_weight_0'].shape
    assert names['up_index_0'].shape[0] == sampler.num_vertices[0]
    no_faces = MeshSampler.from_matrices(mats['A'], mats['U'], mats['D'])
    with pytest.raises(KeyError, match="no faces"):
        no_faces.faces(0)


def test_builds_from_registry(mesh_sampler_file):
    built = TASK_UTILS.build(
        dict(type='MeshSampler', filename=str(mesh_sampler_file)))
    assert isinstance(built, MeshSampler)


def test_shapes_and_bad_arguments(sampler):
    num = sampler.num_vertices[0]
    full = torch.randn(2, num, 4)
    assert sampler.downsample(full).shape == (2, 150, 4)
    assert sampler.downsample(full, 0, 1).shape == (2, 300, 4)
    assert sampler.downsample(full[0]).shape == (150, 4)
    coarse = torch.randn(150, 4, dtype=torch.float64)
    assert sampler.upsample(coarse, -1, 1).shape == (300, 4)
    assert sampler.upsample(coarse).dtype == torch.float64
    with pytest.raises(ValueError, match=rf'x must be \(B, {num}, C\)'):
        sampler.downsample(torch.randn(2, 300, 4))
    with pytest.raises(ValueError, match='coarser to a finer'):
        sampler.upsample(full, 0, 2)
    with pytest.raises(ValueError, match='finer to a coarser'):
        sampler.downsample(coarse, 2, 0)
    with pytest.raises(IndexError, match='level 3 out of range'):
        sampler.adjacency(3)
    with pytest.raises(ValueError, match='hops must be an int >= 0'):
        sampler.khop_mask(-1, -1)


def test_khop_mask_matches_matrix_powers(sampler):
    adj = sampler.adjacency(1).toarray() > 0
    reach = np.eye(len(adj), dtype=bool)
    step = adj | reach
    for hops in range(4):
        assert np.array_equal(sampler.khop_mask(1, hops).numpy(), reach)
        reach = (reach.astype(np.int64) @ step.astype(np.int64)) > 0


def test_save_round_trip_to_exact_path(tmp_path, sampler):
    path = tmp_path / 'hierarchy.bin'  # no .npz suffix gets appended
    sampler.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['hierarchy.bin']
    loaded = MeshSampler(path)
    x = torch.randn(2, 150, 3)
    torch.testing.assert_close(loaded.upsample(x), sampler.upsample(x))
    assert torch.equal(loaded.khop_mask(-1, 3), sampler.khop_mask(-1, 3))
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ['A.npy', 'D.npy', 'F.npy',
                                              'U.npy']
