"""tools/analysis/eval_full_image_camera.py and benchmark_inference.py."""
import numpy as np
import pytest

from pointhmr_mm.visualization import perspective_to_screen
from toolbox import load_tool


def test_camera_errors_are_zero_for_the_truth_and_grow_with_depth():
    tool = load_tool('analysis/eval_full_image_camera')
    rng = np.random.default_rng(0)
    joints = rng.uniform(-0.5, 0.5, (14, 3)) + [0.2, -0.1, 4.]
    focal, hw = 224., (160, 160)
    pixels = perspective_to_screen(joints, (focal, focal), (80., 80.))
    info = dict(keypoints_3d=np.hstack([joints, np.ones((14, 1))]),
                keypoints_2d=np.hstack([pixels[:, :2], np.ones((14, 1))]))
    exact = tool.person_errors(dict(mesh_keypoints_3d_cam=joints), info,
                               focal, hw)
    assert exact == pytest.approx(dict(transl_m=0., depth_m=0.,
                                       reproj_px=0.), abs=1e-9)
    farther = tool.person_errors(
        dict(mesh_keypoints_3d_cam=joints + [0., 0., 0.5]), info, focal, hw)
    assert farther['depth_m'] == pytest.approx(0.5)
    assert farther['transl_m'] == pytest.approx(0.5)
    assert farther['reproj_px'] > 1.
    # unlabelled joints do not count
    info['keypoints_2d'][0] = [1e4, 1e4, 0.]
    assert tool.person_errors(dict(mesh_keypoints_3d_cam=joints), info,
                              focal, hw)['reproj_px'] == pytest.approx(0.)


def test_benchmark_inputs_and_rate(tiny_checkpoint):
    tool = load_tool('analysis/benchmark_inference')
    images, boxes = tool.make_inputs(3, 96, 2)
    assert len(images) == 3 and images[0].shape == (96, 96, 3)
    assert boxes == [[0., 0., 48., 96.], [48., 0., 96., 96.]]
    from pointhmr_mm.apis import MeshInferencer
    inferencer = MeshInferencer(*map(str, tiny_checkpoint))
    assert tool.run(inferencer, images, boxes, batch_size=4) > 0
