import cv2
import numpy as np
import pytest
import trimesh

from pointhmr_mm.visualization import (MeshRenderer, perspective_to_screen,
                                       side_view, weak_perspective_to_screen)


def sphere_on_screen(size=96):
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    verts = perspective_to_screen(mesh.vertices + [0.1, -0.05, 2.5],
                                  (size * 1.6, size * 1.6),
                                  (size / 2, size / 2))
    return verts, mesh.faces


def reference_silhouette(verts, faces, size):
    """Union of all triangles, filled by OpenCV at 1/16 px precision."""
    mask = np.zeros((size, size), np.uint8)
    shift = 4
    # OpenCV samples pixel centres at integer coordinates
    pts = np.round((verts[:, :2] - 0.5) * 2**shift).astype(np.int32)
    for tri in pts[faces]:  # one by one: fillPoly would XOR overlaps
        cv2.fillConvexPoly(mask, tri, 1, lineType=cv2.LINE_8, shift=shift)
    return mask.astype(bool)


def test_silhouette_matches_independent_rasterisation():
    verts, faces = sphere_on_screen()
    out = MeshRenderer(96).render(verts, faces)
    ref = reference_silhouette(verts, faces, 96)
    iou = (out['mask'] & ref).sum() / (out['mask'] | ref).sum()
    assert iou > 0.95
    assert out['image'][out['mask']].max() > 0


def test_empty_scene_draws_nothing():
    bg = np.full((32, 40, 3), 17, np.uint8)
    renderer = MeshRenderer((32, 40))
    empty = renderer.render(np.zeros((0, 3)), np.zeros((0, 3), int),
                            image=bg)
    assert not empty['mask'].any() and np.array_equal(empty['image'], bg)
    verts, faces = sphere_on_screen()
    outside = renderer.render(verts + [500., 0., 0.], faces, image=bg)
    assert not outside['mask'].any() and np.isinf(outside['depth']).all()
    with pytest.raises(ValueError, match='background'):
        renderer.render(verts, faces, image=np.zeros((8, 8, 3), np.uint8))


def quad(x0, y0, x1, y1, z):
    v = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], float)
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def test_occlusion_and_depth():
    renderer = MeshRenderer(20)
    far, f = quad(0, 0, 20, 20, 5.)
    near, _ = quad(5, 5, 10, 10, 2.)
    out = renderer.render([far, near], [f, f], color=(1., 1., 1.))
    assert out['depth'][7, 7] == pytest.approx(2.)
    assert out['depth'][15, 15] == pytest.approx(5.)
    # the far quad drawn last must not cover the near one
    swapped = renderer.render([near, far], [f, f])
    assert np.array_equal(out['depth'], swapped['depth'])


def test_pixel_centre_convention():
    # a quad covering x in [2, 4) covers pixel columns 2 and 3 only
    v, f = quad(2., 0., 4., 3., 1.)
    mask = MeshRenderer((3, 6)).render(v, f)['mask']
    assert mask[:, 2:4].all() and not mask[:, [0, 1, 4, 5]].any()


def test_weak_perspective_and_side_view():
    verts = np.array([[0., 0., 1.], [1., 1., 1.]])
    screen = weak_perspective_to_screen(verts, (0.5, 0., 0.), crop_size=100)
    np.testing.assert_allclose(screen[:, :2], [[50, 50], [75, 75]])
    affine = np.array([[2., 0., 10.], [0., 2., 20.]])
    moved = weak_perspective_to_screen(verts, (0.5, 0., 0.), 100, affine)
    np.testing.assert_allclose(moved[:, :2], [[110, 120], [160, 170]])
    turned = side_view(np.array([[1., 0., 0.], [-1., 0., 0.]]), 90)
    np.testing.assert_allclose(turned, [[0, 0, -1], [0, 0, 1]], atol=1e-12)
