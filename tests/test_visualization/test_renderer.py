import cv2
import numpy as np
import pytest
import torch
import trimesh

from pointhmr_mm.visualization import (MeshRenderer, perspective_to_screen,
                                       side_view, weak_perspective_to_screen)
from pointhmr_mm.visualization.renderer import rasterize

WHITE = (1., 1., 1.)


def sphere_on_screen(size=96):
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    cam = mesh.vertices + [0.1, -0.05, 2.5]
    verts = perspective_to_screen(cam, (size * 1.6, size * 1.6),
                                  (size / 2, size / 2))
    return verts, mesh.faces, cam


def reference_silhouette(verts, faces, size):
    """Union of all triangles, filled by OpenCV at 1/16 px precision."""
    mask = np.zeros((size, size), np.uint8)
    shift = 4
    # OpenCV puts pixel centres at integers, the renderer at +0.5
    pts = np.round((verts[:, :2] - 0.5) * 2**shift).astype(np.int32)
    for tri in pts[faces]:  # one by one: fillPoly would XOR overlaps
        cv2.fillConvexPoly(mask, tri, 1, lineType=cv2.LINE_8, shift=shift)
    return mask.astype(bool)


def quad(x0, y0, x1, y1, z):
    v = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], float)
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def test_silhouette_matches_independent_rasterisation():
    verts, faces, _ = sphere_on_screen()
    out = MeshRenderer(96).render(verts, faces)
    ref = reference_silhouette(verts, faces, 96)
    iou = (out['mask'] & ref).sum() / (out['mask'] | ref).sum()
    assert iou > 0.95
    assert out['image'].shape == (96, 96, 3) and out['image'].dtype == np.uint8
    assert (out['image'][out['mask']] > 0).all()
    assert (out['image'][~out['mask']] == 0).all()
    # the sphere's nearest point is 2.0 away, its silhouette rim ~2.5
    assert 2.0 <= out['depth'][out['mask']].min() < 2.1
    assert np.isinf(out['depth'][~out['mask']]).all()


def test_empty_scene_draws_nothing():
    bg = np.full((32, 40, 3), 17, np.uint8)
    renderer = MeshRenderer((32, 40))
    empty = renderer.render(np.zeros((0, 3)), np.zeros((0, 3), int),
                            image=bg)
    assert not empty['mask'].any() and np.array_equal(empty['image'], bg)
    verts, faces, _ = sphere_on_screen()
    outside = renderer.render(verts + [500., 0., 0.], faces, image=bg)
    assert not outside['mask'].any() and np.isinf(outside['depth']).all()
    assert np.array_equal(outside['image'], bg)
    none = MeshRenderer(8, background=(0., 0., 1.)).render([], [])
    assert (none['image'] == [255, 0, 0]).all()  # red -> BGR


def test_occlusion_colour_and_depth():
    renderer = MeshRenderer(20)
    far, f = quad(0, 0, 20, 20, 5.)
    near, _ = quad(5, 5, 10, 10, 2.)
    red, green = (1., 0., 0.), (0., 1., 0.)
    for order in ((far, near, red, green), (near, far, green, red)):
        out = renderer.render(list(order[:2]), [f, f], color=order[2:])
        assert out['depth'][7, 7] == pytest.approx(2.)
        assert out['depth'][15, 15] == pytest.approx(5.)
        # facing the light: ambient + diffuse = full colour; BGR order
        assert out['image'][7, 7].tolist() == [0, 255, 0]
        assert out['image'][15, 15].tolist() == [0, 0, 255]


def test_pixel_centre_convention():
    # a quad over x in [2, 4) covers columns 2 and 3; x in [2.6, 3.4)
    # holds no pixel centre (2.5 and 3.5 are outside)
    v, f = quad(2., 0., 4., 3., 1.)
    mask = MeshRenderer((3, 6)).render(v, f)['mask']
    assert mask[:, 2:4].all() and not mask[:, [0, 1, 4, 5]].any()
    v, f = quad(2.6, 0., 3.4, 3., 1.)
    assert not MeshRenderer((3, 6)).render(v, f)['mask'].any()
    v, f = quad(3.5, 0.5, 3.9, 1.5, 1.)  # its left edge passes a centre
    mask = MeshRenderer((3, 6)).render(v, f)['mask']
    assert np.argwhere(mask).tolist() == [[0, 3], [1, 3]]


def test_shading_flat_and_smooth():
    v, f = quad(0, 0, 8, 8, 1.)
    grey = MeshRenderer(8, ambient=0.3, diffuse=0.7)
    lit = grey.render(v, f, color=WHITE)['image']
    assert (lit == 255).all()
    grazing = grey.render(v, f, color=WHITE, light_dir=(1., 0., 0.))
    assert (grazing['image'] == int(0.3 * 255 + 0.5)).all()
    tinted = grey.render(v, f, color=WHITE, light_color=(1., 0., 0.))
    dim = int(0.3 * 255 + 0.5)
    assert tinted['image'][0, 0].tolist() == [dim, dim, 255]
    # a sphere: smooth shading varies within faces, flat does not
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    verts = weak_perspective_to_screen(mesh.vertices + [0, 0, 3], (1, 0, 0),
                                       crop_size=64)
    smooth = MeshRenderer(64).render(verts, mesh.faces, color=WHITE)
    flat = MeshRenderer(64, smooth=False).render(verts, mesh.faces,
                                                 color=WHITE)
    ids = rasterize(verts, mesh.faces.astype(np.int64), 64, 64)[0]
    levels = [len(np.unique(flat['image'][ids == k][:, 0]))
              for k in np.unique(ids[ids >= 0])]
    assert max(levels) == 1 and len(np.unique(smooth['image'][ids >= 0])) \
        > len(np.unique(flat['image'][ids >= 0]))
    # lit from the camera: the centre faces the light, the rim (radius 16
    # px around (32, 32)) does not
    assert smooth['image'][32, 32, 0] >= 250
    assert smooth['image'][32, 16, 0] < 0.65 * 255


def test_exact_normals_under_perspective():
    # perspective_to_screen keeps z in metres but xy in pixels, so
    # screen-space normals all but face the camera; camera-frame
    # normal_vertices give the true shading
    verts, faces, cam = sphere_on_screen(64)
    screen = MeshRenderer(64).render(verts, faces)
    exact = MeshRenderer(64).render(verts, faces, normal_vertices=cam)
    assert np.array_equal(exact['mask'], screen['mask'])
    inner = cv2.erode(exact['mask'].astype(np.uint8), np.ones((3, 3)),
                      iterations=2).astype(bool)
    rim = exact['mask'] & ~inner
    assert exact['image'][rim][:, 0].mean() < 0.6 * 255
    assert screen['image'][rim][:, 0].mean() > exact['image'][rim][:, 0]\
        .mean()
    with pytest.raises(ValueError, match='normal_vertices'):
        MeshRenderer(64).render(verts, faces, normal_vertices=cam[:10])


def test_alpha_blend_keeps_input():
    bg = np.full((8, 8, 3), 100, np.uint8)
    v, f = quad(0, 0, 8, 8, 1.)
    out = MeshRenderer(8).render(v, f, image=bg, color=WHITE, alpha=0.5)
    assert (out['image'] == 178).all()  # (255 + 100) / 2, rounded
    assert (bg == 100).all()


def test_bad_arguments_raise_clear_errors():
    renderer = MeshRenderer(8)
    v, f = quad(0, 0, 8, 8, 1.)
    with pytest.raises(ValueError, match='background'):
        renderer.render(v, f, image=np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match='faces'):
        renderer.render(v, f + 10)
    with pytest.raises(ValueError, match='faces'):
        renderer.render(v, f.astype(float))
    with pytest.raises(ValueError, match=r'vertices\[0\]'):
        renderer.render(v[:, :2], f)
    with pytest.raises(ValueError, match='alpha'):
        renderer.render(v, f, alpha=2.)
    with pytest.raises(ValueError, match='color'):
        renderer.render([v, v], f, color=[WHITE] * 3)
    with pytest.raises(ValueError, match='image_size'):
        MeshRenderer((8, 8, 8))
    with pytest.raises(ValueError, match='light_dir'):
        MeshRenderer(8, light_dir=(0, 0, 0))


def test_perspective_projection():
    cam = torch.tensor([[0., 0., 2.], [1., -0.5, 2.], [0., 0., -1.]])
    screen = perspective_to_screen(cam, (100., 50.), (32., 24.))
    np.testing.assert_allclose(screen[:2], [[32, 24, 2], [82, 11.5, 2]])
    assert np.isnan(screen[2]).all()  # behind the camera
    verts, faces, _ = sphere_on_screen(32)
    verts[0] = np.nan  # faces touching a hidden vertex are skipped
    assert MeshRenderer(32).render(verts, faces)['mask'].any()
    with pytest.raises(ValueError, match='focal'):
        perspective_to_screen(cam, (100., ), (32., 24.))


def test_weak_perspective_and_side_view():
    verts = np.array([[0., 0., 1.], [1., 1., 1.]])
    screen = weak_perspective_to_screen(verts, (0.5, 0., 0.), crop_size=100)
    # x_norm 0 -> crop centre; x_norm 0.5 -> 3/4 of the crop
    np.testing.assert_allclose(screen, [[50, 50, 25], [75, 75, 25]])
    shifted = weak_perspective_to_screen(verts, (0.5, 1., -1.), 100)
    np.testing.assert_allclose(shifted[0, :2], [75, 25])
    affine = np.array([[2., 0., 10.], [0., 2., 20.]])
    moved = weak_perspective_to_screen(verts, (0.5, 0., 0.), 100, affine)
    np.testing.assert_allclose(moved, [[110, 120, 50], [160, 170, 50]])
    turned = side_view(np.array([[1., 0., 0.], [-1., 0., 0.]]), 90)
    np.testing.assert_allclose(turned, [[0, 0, -1], [0, 0, 1]], atol=1e-12)
    with pytest.raises(ValueError, match='camera'):
        weak_perspective_to_screen(verts, (1., 0.), 100)
    with pytest.raises(ValueError, match='crop_to_image'):
        weak_perspective_to_screen(verts, (1., 0., 0.), 100, np.eye(3))


def test_vertex_colours_are_interpolated():
    from pointhmr_mm.visualization import MeshRenderer
    verts = np.array([[0., 0., 1.], [20., 0., 1.], [20., 20., 1.],
                      [0., 20., 1.]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    colours = np.array([[1., 0., 0.], [1., 0., 0.], [0., 0., 1.],
                        [0., 0., 1.]])  # red at the top, blue at the bottom
    renderer = MeshRenderer(20, ambient=1., diffuse=0.)
    img = renderer.render(verts, faces, vertex_colors=colours)['image']
    assert img[1, 10, 2] > 200 and img[1, 10, 0] < 40  # BGR: red row
    assert img[18, 10, 0] > 200 and img[18, 10, 2] < 40
    assert 80 < img[10, 10, 2] < 180  # halfway: a mix
    with pytest.raises(ValueError, match='vertex_colors'):
        renderer.render(verts, faces, vertex_colors=colours[:3])
