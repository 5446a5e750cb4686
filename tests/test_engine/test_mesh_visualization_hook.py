import uuid
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
import trimesh
from mmengine.structures import BaseDataElement
from mmengine.visualization import Visualizer

from pointhmr_mm.engine.hooks import MeshVisualizationHook
from pointhmr_mm.registry import HOOKS
from pointhmr_mm.visualization import MeshVisualizer

SIZE = 48
MESH = trimesh.creation.icosphere(subdivisions=1, radius=0.5)


class FakeEstimator(torch.nn.Module):
    """Just what the hook reads: ``body_model.faces``, a (F, 3) long
    buffer."""

    def __init__(self):
        super().__init__()
        self.body_model = torch.nn.Module()
        self.body_model.register_buffer('faces', torch.as_tensor(MESH.faces))


def fake_batch(num=3):
    inputs = [torch.randint(0, 256, (3, SIZE, SIZE), dtype=torch.uint8)
              for _ in range(num)]
    samples = [BaseDataElement(
        pred_vertices=torch.tensor(MESH.vertices, dtype=torch.float32),
        pred_camera=torch.tensor([1., 0., 0.]),
        pred_heatmaps=torch.full((10, 6, 6), 1 / 36.)) for _ in range(num)]
    return dict(inputs=inputs, data_samples=samples), samples


def fake_runner(tmp_path, visualizer_type=MeshVisualizer, model=None):
    vis = visualizer_type(name=f'vis_{uuid.uuid4().hex}',
                          vis_backends=[dict(type='LocalVisBackend')],
                          save_dir=str(tmp_path))
    return SimpleNamespace(visualizer=vis, iter=7, work_dir=str(tmp_path),
                           model=model or FakeEstimator())


def images(tmp_path):
    return sorted(p.name for p in tmp_path.rglob('*.png'))


def run_validation(hook, runner, batches=2):
    hook.before_val_epoch(runner)
    for idx in range(batches):
        data_batch, outputs = fake_batch()
        hook.after_val_iter(runner, idx, data_batch, outputs)


def test_validation_draws_first_samples(tmp_path):
    hook = HOOKS.build(dict(type='MeshVisualizationHook', max_samples=4))
    runner = fake_runner(tmp_path)
    run_validation(hook, runner)
    assert images(tmp_path) == [f'val_mesh_{k}_7.png' for k in range(4)]
    picture = cv2.imread(str(tmp_path / 'vis_data' / 'vis_image' /
                             'val_mesh_0_7.png'))
    assert picture.shape == (SIZE, 3 * SIZE, 3)
    # faces came from the model
    assert np.array_equal(runner.visualizer.faces, MESH.faces)


def test_input_colour_order_and_mesh_pixels(tmp_path):
    hook = MeshVisualizationHook(max_samples=1)
    runner = fake_runner(tmp_path)
    hook.before_val_epoch(runner)
    data_batch, outputs = fake_batch(1)
    hook.after_val_iter(runner, 0, data_batch, outputs)
    written = cv2.imread(str(tmp_path / 'vis_data' / 'vis_image' /
                             'val_mesh_0_7.png'))  # BGR, like the inputs
    crop_bgr = data_batch['inputs'][0].permute(1, 2, 0).numpy()
    assert np.array_equal(written[:3, :3], crop_bgr[:3, :3])
    centre = slice(SIZE // 2 - 3, SIZE // 2 + 3)
    assert (written[centre, centre] != crop_bgr[centre, centre]).any(-1)\
        .all()


def test_interval_enable_and_wrapped_model(tmp_path):
    hook = MeshVisualizationHook(interval=2, max_samples=1)
    runner = fake_runner(tmp_path,
                         model=torch.nn.DataParallel(FakeEstimator()))
    for it in (7, 8, 9):  # validations 1 and 3 draw, 2 does not
        runner.iter = it
        run_validation(hook, runner, batches=1)
    assert images(tmp_path) == ['val_mesh_0_7.png', 'val_mesh_0_9.png']
    off = MeshVisualizationHook(enable=False)
    other = tmp_path / 'off'
    runner = fake_runner(other)
    run_validation(off, runner)
    assert images(other) == []


def test_plain_visualizer_and_out_dir(tmp_path):
    hook = MeshVisualizationHook(max_samples=2)
    runner = fake_runner(tmp_path, visualizer_type=Visualizer)
    run_validation(hook, runner, batches=1)
    assert images(tmp_path) == ['val_mesh_0_7.png', 'val_mesh_1_7.png']
    files = MeshVisualizationHook(max_samples=2, out_dir='vis_test')
    runner = fake_runner(tmp_path / 'run')
    files.before_test_epoch(runner)
    data_batch, outputs = fake_batch()
    files.after_test_iter(runner, 0, data_batch, outputs)
    assert images(tmp_path / 'run') == ['test_mesh_0_7.png',
                                        'test_mesh_1_7.png']
    assert (tmp_path / 'run' / 'vis_test' / 'test_mesh_0_7.png').exists()


def test_bad_arguments_and_missing_faces(tmp_path):
    with pytest.raises(ValueError, match='interval'):
        MeshVisualizationHook(interval=0)
    hook = MeshVisualizationHook()
    runner = fake_runner(tmp_path, model=torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match='faces'):
        hook.before_val_epoch(runner)
    given = MeshVisualizationHook(faces=MESH.faces)
    given.before_val_epoch(runner)
    with pytest.raises(KeyError, match='inputs'):
        given.after_val_iter(runner, 0, {}, fake_batch()[1])
