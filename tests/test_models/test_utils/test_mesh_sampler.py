import io
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from pointhmr_mm.models.utils import MeshSampler


@pytest.fixture(scope='module')
def sampler(mesh_sampler_file):
    return MeshSampler(str(mesh_sampler_file))


def test_d_times_u_is_identity(sampler):
    mats = sampler.matrices()
    for up, down in zip(mats['U'], mats['D']):
        np.testing.assert_allclose((down @ up).toarray(),
                                   np.eye(down.shape[0]), atol=1e-6)


def test_coarse_vertices_are_a_subset(sampler, mannequin_dir):
    from pointhmr_mm.models.body_models import SMPL
    verts = SMPL(str(mannequin_dir)).v_template
    coarse = sampler.downsample(verts)
    assert (coarse[:, None] == verts[None]).all(-1).any(1).all()


def test_smooth_field_survives_down_and_up(sampler, mannequin_dir):
    from pointhmr_mm.models.body_models import SMPL
    verts = SMPL(str(mannequin_dir)).v_template
    field = torch.stack([verts[:, 0] * 2 + verts[:, 1],
                         torch.sin(2 * verts[:, 1])], dim=1)
    restored = sampler.upsample(sampler.downsample(field[None]))[0]
    # the coarse surface lies within a few cm of the fine one, and the
    # field changes by at most ~2.3 per metre
    assert (restored - field).abs().max() < 0.1
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


# A pickled psbody Mesh, written opcode by opcode: protocol 2, GLOBAL
# psbody.mesh.mesh.Mesh, NEWOBJ with no arguments, BUILD with {}, STOP.
PSBODY_PICKLE = b'\x80\x02cpsbody.mesh.mesh\nMesh\n)\x81}b.'


def write_graphcmr_npz(path, sampler, break_d=False):
    """The users' file layout, with an M key whose objects name a class in
    a module that cannot be imported."""
    mats = sampler.matrices()
    if break_d:
        d = mats['D'][0].tolil()
        d[0, 1] = 1.
        mats['D'][0] = d.tocsr()
    with zipfile.ZipFile(path, 'w') as archive:
        for key in ('A', 'U', 'D', 'F'):
            values = np.empty(len(mats[key]), dtype=object)
            for i, v in enumerate(mats[key]):
                values[i] = v
            buf = io.BytesIO()
            np.lib.format.write_array(buf, values, allow_pickle=True)
            archive.writestr(f'{key}.npy', buf.getvalue())
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buf, dict(descr='|O', fortran_order=False, shape=(1, )))
        archive.writestr('M.npy', buf.getvalue() + PSBODY_PICKLE)


def test_graphcmr_file_with_psbody_key_loads(tmp_path, sampler):
    path = tmp_path / 'mesh_downsampling.npz'
    write_graphcmr_npz(path, sampler)
    loaded = MeshSampler(str(path))
    assert loaded.num_vertices == sampler.num_vertices
    assert loaded.faces(-1).shape[1] == 3


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
