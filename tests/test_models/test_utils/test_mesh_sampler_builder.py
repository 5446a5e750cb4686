import numpy as np
import pytest
import scipy.sparse as sp
import trimesh
from scipy.sparse.csgraph import connected_components

from pointhmr_mm.models.utils import MeshSampler, build_mesh_sampler
from pointhmr_mm.models.utils import mesh_sampler_builder as builder

from toolbox import load_tool



def open_cap():
    """An icosphere with its top cut off: open, so decimation does not
    land on the target by the closed-mesh rule."""
    sphere = trimesh.creation.icosphere(subdivisions=3)
    cap = trimesh.Trimesh(sphere.vertices,
                          sphere.faces[sphere.triangles_center[:, 2] < 0.5])
    cap.remove_unreferenced_vertices()
    return cap.vertices, cap.faces


def check_hierarchy(sampler, vertices):
    mats = sampler.matrices()
    verts = np.asarray(vertices)
    for level, (up, down) in enumerate(zip(mats['U'], mats['D'])):
        np.testing.assert_array_equal((down @ up).toarray(),
                                      np.eye(down.shape[0]))
        # closest points on triangles: weights in [0, 1], summing to 1
        assert up.data.min() >= -1e-9 and up.data.max() <= 1 + 1e-9
        np.testing.assert_allclose(np.asarray(up.sum(1)).ravel(), 1.,
                                   atol=1e-9)
        selected = down.indices
        assert len(np.unique(selected)) == len(selected)
        verts = verts[selected]  # coarse vertices are fine vertices
    for level, num in enumerate(sampler.num_vertices):
        adj, faces = sampler.adjacency(level), sampler.faces(level)
        assert (adj != adj.T).nnz == 0 and not adj.diagonal().any()
        assert np.array_equal(np.unique(faces), np.arange(num))
        assert (faces[:, 0] != faces[:, 1]).all()
        assert (faces[:, 1] != faces[:, 2]).all()
        assert (faces[:, 0] != faces[:, 2]).all()


def test_exact_counts_on_an_open_mesh():
    vertices, faces = open_cap()
    sampler = build_mesh_sampler(vertices, faces, levels=(211, 53))
    assert sampler.num_vertices == [len(vertices), 211, 53]
    check_hierarchy(sampler, vertices)


def test_weights_give_the_closest_point_on_the_coarse_surface():
    sphere = trimesh.creation.icosphere(subdivisions=3)
    sampler = build_mesh_sampler(sphere.vertices, sphere.faces, levels=(160,))
    mats = sampler.matrices()
    coarse = sphere.vertices[mats['D'][0].indices]
    on_surface = mats['U'][0] @ coarse
    # brute force over every coarse triangle, no candidate shortlist
    triangles = coarse[sampler.faces(1)]
    num_fine, num_tri = len(sphere.vertices), len(triangles)
    closest = trimesh.triangles.closest_point(
        np.tile(triangles, (num_fine, 1, 1)),
        np.repeat(sphere.vertices, num_tri, axis=0))
    distance = np.linalg.norm(
        closest - np.repeat(sphere.vertices, num_tri, axis=0),
        axis=1).reshape(num_fine, num_tri).min(1)
    np.testing.assert_allclose(
        np.linalg.norm(on_surface - sphere.vertices, axis=1), distance,
        atol=1e-6)  # the sampler keeps float32 weights
    assert distance.max() > 0  # the fine vertices are not all on it


def test_short_decimation_is_filled_by_face_splits(monkeypatch):
    sphere = trimesh.creation.icosphere(subdivisions=2)
    real = builder._decimate
    shortfall = 7
    monkeypatch.setattr(
        builder, '_decimate',
        lambda v, f, target: real(v, f, target - shortfall))
    sampler = build_mesh_sampler(sphere.vertices, sphere.faces, levels=(80, ))
    assert sampler.num_vertices == [162, 80]
    check_hierarchy(sampler, sphere.vertices)
    faces = sampler.faces(1)
    # every split adds two faces and keeps the surface closed and connected
    assert len(faces) == 2 * (80 - 2)
    assert connected_components(sampler.adjacency(1))[0] == 1
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]],
                                    faces[:, [2, 0]]]), axis=1)
    _, uses = np.unique(edges, axis=0, return_counts=True)
    assert (uses == 2).all()


def test_bad_inputs_are_refused():
    vertices, faces = open_cap()
    with pytest.raises(ValueError, match='levels must be non-empty and '
                       'decrease'):
        build_mesh_sampler(vertices, faces, levels=(100, 200))
    with pytest.raises(ValueError, match='levels must be non-empty'):
        build_mesh_sampler(vertices, faces, levels=())
    with pytest.raises(ValueError, match='levels must be >= 4'):
        build_mesh_sampler(vertices, faces, levels=(100, 3))
    with pytest.raises(ValueError, match=r'vertices must be \(N, 3\)'):
        build_mesh_sampler(vertices[:, :2], faces, levels=(100, ))
    with pytest.raises(ValueError, match='faces index outside'):
        build_mesh_sampler(vertices, faces + 1000, levels=(100, ))
    with pytest.raises(ValueError, match=r'faces must be \(F, 3\) integers'):
        build_mesh_sampler(vertices, faces.astype(float), levels=(100, ))


@pytest.fixture(scope='module')
def tool():
    return load_tool('build_mesh_sampler')


def test_tool_builds_and_refuses_to_overwrite(tool, body_model_dir, tmp_path,
                                              capsys):
    out = tmp_path / 'mesh_downsampling.npz'
    argv = [str(body_model_dir / 'smpl'), '--levels', '200', '60', '-o',
            str(out)]
    assert tool.main(argv) == 0
    sampler = MeshSampler(out)
    assert sampler.num_vertices[1:] == [200, 60]
    before = out.read_bytes()
    assert tool.main(argv[:3] + ['50', '-o', str(out)]) == 1
    assert 'pass --overwrite' in capsys.readouterr().err
    assert out.read_bytes() == before
    assert tool.main(argv[:3] + ['50', '-o', str(out), '--overwrite']) == 0
    assert MeshSampler(out).num_vertices[1:] == [200, 50]
    assert tool.main(argv[:4] + ['-o', str(tmp_path / 'no' / 'x.npz')]) == 1


def test_sparse_formats_are_accepted():
    vertices, faces = open_cap()
    sampler = build_mesh_sampler(vertices, faces, levels=(100, ))
    mats = sampler.matrices()
    as_coo = MeshSampler.from_matrices(
        [sp.coo_matrix(a) for a in mats['A']],
        [sp.csc_matrix(u) for u in mats['U']],
        [sp.lil_matrix(d) for d in mats['D']])
    assert as_coo.num_vertices == sampler.num_vertices
