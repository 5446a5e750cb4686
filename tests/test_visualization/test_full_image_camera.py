"""The full-image camera: the crop's weak perspective turned into a
camera-frame translation, and every person drawn in one frame with one
z-buffer."""
import numpy as np
import pytest
import torch
import trimesh

from pointhmr_mm.utils.geometry import cam_crop_to_full, diagonal_focal
from pointhmr_mm.visualization import (MeshVisualizer, draw_people,
                                       perspective_to_screen, person_colors)


def crop_projection(points, camera, center, size):
    """Image pixels of the weak-perspective crop camera: ``s * (X + t)``
    in [-1, 1] across a square crop of ``size`` px around ``center``."""
    s, tx, ty = camera
    norm = s * (points[:, :2] + [tx, ty])
    return np.asarray(center) + norm * size / 2.


@pytest.mark.parametrize('center,size,camera', [
    ((320., 240.), 200., (0.9, 0.05, -0.1)),
    ((80., 400.), 120., (1.3, -0.2, 0.3)),
])
def test_perspective_matches_the_crop_camera_near_the_root(center, size,
                                                           camera):
    height, width = 480, 640
    focal = diagonal_focal(height, width)
    trans = cam_crop_to_full(
        torch.tensor([camera], dtype=torch.float64),
        torch.tensor([center], dtype=torch.float64),
        torch.tensor([size], dtype=torch.float64),
        torch.tensor([[height, width]], dtype=torch.float64),
        torch.tensor([focal], dtype=torch.float64))[0].numpy()
    assert trans[2] == pytest.approx(2 * focal / (camera[0] * size))
    # the root projects exactly where the crop camera puts it
    root = np.zeros((1, 3))
    full = perspective_to_screen(root + trans, (focal, focal),
                                 (width / 2, height / 2))[:, :2]
    np.testing.assert_allclose(full, crop_projection(root, camera, center,
                                                     size), atol=1e-6)
    # a body-sized cloud: perspective and weak perspective differ by the
    # depth spread over the distance, times the crop's size and its
    # offset from the image centre (here below 5% of the crop)
    rng = np.random.default_rng(0)
    body = rng.uniform(-1, 1, (500, 3)) * [0.3, 0.8, 0.15]
    full = perspective_to_screen(body + trans, (focal, focal),
                                 (width / 2, height / 2))[:, :2]
    err = np.abs(full - crop_projection(body, camera, center, size)).max()
    assert err < 0.05 * size
    ratio = 0.15 / trans[2]
    assert err > 0.1 * ratio * size  # not exact: it is perspective


def test_bad_arguments_are_named():
    one = torch.ones(1)
    with pytest.raises(ValueError, match='bbox_center'):
        cam_crop_to_full(torch.ones(1, 3), torch.ones(1, 3), one,
                         torch.ones(1, 2), one)
    with pytest.raises(ValueError, match='positive'):
        cam_crop_to_full(torch.tensor([[-1., 0., 0.]]), torch.ones(1, 2),
                         one, torch.ones(1, 2), one)
    with pytest.raises(ValueError, match='positive'):
        diagonal_focal(0, 10)


def sphere(centre):
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    return np.asarray(mesh.vertices) + centre, np.asarray(mesh.faces)


@pytest.mark.parametrize('order', [(0, 1), (1, 0)])
def test_two_people_in_one_frame_the_nearer_covers(order):
    height, width, focal = 120, 160, 150.
    near, faces = sphere([-0.15, 0., 4.])
    far, _ = sphere([0.25, 0., 6.])
    meshes, colors = [near, far], person_colors(2)
    image = np.zeros((height, width, 3), np.uint8)
    drawn = draw_people(image, [meshes[k] for k in order], faces, focal,
                        colors=colors[list(order)], alpha=1.)
    # the image centre sees both spheres: the nearer one's colour wins
    pixel = drawn[height // 2, width // 2].astype(float)
    hue = pixel / pixel.sum()
    near_hue = colors[0][::-1] / colors[0].sum()
    far_hue = colors[1][::-1] / colors[1].sum()
    assert np.abs(hue - near_hue).sum() < np.abs(hue - far_hue).sum()
    assert np.abs(hue - near_hue).sum() < 0.05
    # the farther sphere still shows where the nearer one does not reach
    right = drawn[height // 2, width // 2 + 16].astype(float)
    assert np.abs(right / right.sum() - far_hue).sum() < 0.05


def test_visualizer_draws_records_with_boxes():
    vertices, faces = sphere([0., 0., 5.])
    record = dict(vertices_cam=vertices, bbox=np.array([10., 10., 60., 50.]),
                  mesh_keypoints_2d=np.array([[80., 60.]]))
    visualizer = MeshVisualizer(name='full_image_test', faces=faces)
    image = np.zeros((120, 160, 3), np.uint8)
    plain = visualizer.add_people('x', image, [record], 150.)
    boxed = visualizer.add_people('x', image, [record], 150.,
                                  draw_bbox=True, thickness=1)
    assert plain[60, 80].any() and not plain[10, 30].any()
    assert boxed[10, 30].any()  # the box's top edge
    record['mesh_keypoints_2d'] = np.array([[5., 100.]])
    dotted = visualizer.add_people('x', image, [record], 150.,
                                   draw_keypoints=True, radius=2)
    assert dotted[100, 5].any() and not plain[100, 5].any()
    with pytest.raises(ValueError, match='focal'):
        draw_people(image, [vertices], faces, 0.)
