import numpy as np
import pytest

from pointhmr_mm.synthetic.camera import (DEPTH_RANGE, FIT_MARGIN,
                                          FOCAL_PER_SIDE, SyntheticCamera)
from pointhmr_mm.synthetic.scene import (AMBIENT_RANGE, random_background,
                                         random_lighting, scene_settings)


def _plane_residual(img: np.ndarray) -> float:
    """Std of what a per-channel linear ramp in x and y leaves over."""
    size = img.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].reshape(2, -1)
    design = np.stack([np.ones_like(xx), xx, yy], 1).astype(float)
    values = img.reshape(-1, 3).astype(float)
    coef = np.linalg.lstsq(design, values, rcond=None)[0]
    return float((values - design @ coef).std())


def test_background_clutter_follows_the_setting():
    # no shapes: a gradient plus sensor noise (std <= 10), maybe blurred
    plain = [_plane_residual(random_background(
        np.random.default_rng(s), 64, (0, 0))) for s in range(10)]
    busy = [_plane_residual(random_background(
        np.random.default_rng(s), 64, (6, 6))) for s in range(10)]
    assert max(plain) < 11
    assert np.median(busy) > 20
    img = random_background(np.random.default_rng(0), 48)
    assert img.shape == (48, 48, 3) and img.dtype == np.uint8


def test_lighting_comes_from_the_camera_side():
    for seed in range(20):
        light = random_lighting(np.random.default_rng(seed))
        assert light['light_dir'][2] > 0  # travels away from the camera
        assert AMBIENT_RANGE[0] <= light['ambient'] <= AMBIENT_RANGE[1]


def test_scene_settings_are_checked():
    assert scene_settings(30, (0, 2)) == dict(max_heading_deg=30.,
                                              background_shapes=[0, 2])
    with pytest.raises(ValueError, match='background_shapes'):
        scene_settings(background_shapes=(3, 1))
    with pytest.raises(ValueError, match='max_heading_deg'):
        scene_settings(max_heading_deg=270.)


def test_camera_projects_and_places():
    camera = SyntheticCamera(100)
    points = np.array([[0., 0., 2.], [0.5, -0.25, 5.]])
    np.testing.assert_allclose(
        camera.project(points),
        [[50., 50.], [50 + FOCAL_PER_SIDE * 10, 50 - FOCAL_PER_SIDE * 5]])
    # a 1.8 m tall body is put in view, at least DEPTH_RANGE[0] away
    rng = np.random.default_rng(0)
    body = np.stack(np.meshgrid([-0.3, 0.3], [-0.9, 0.9], [-0.1, 0.1]),
                    -1).reshape(-1, 3)
    for _ in range(20):
        transl = camera.place(body, np.zeros(3), rng)
        xy = camera.project(body + transl)
        assert xy.min() >= FIT_MARGIN * 100 - 1e-6
        assert xy.max() <= 100 - FIT_MARGIN * 100 + 1e-6
        assert transl[2] >= DEPTH_RANGE[0]
