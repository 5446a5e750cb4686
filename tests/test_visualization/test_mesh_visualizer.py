import uuid

import cv2
import numpy as np
import pytest
import torch
import trimesh
from mmengine.structures import BaseDataElement

from pointhmr_mm.registry import VISUALIZERS
from pointhmr_mm.visualization import (MeshVisualizer, draw_heatmap_grid,
                                       draw_mesh_prediction)

SIZE = 64
NUM_COARSE = 20


def fake_sample(heatmaps=True, seed=0):
    """An icosphere 'body' of radius 0.5 m, in the centre of the crop with
    camera (1, 0, 0): it covers crop pixels ~16..48."""
    gen = torch.Generator().manual_seed(seed)
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    sample = BaseDataElement(
        pred_vertices=torch.tensor(mesh.vertices, dtype=torch.float32),
        pred_camera=torch.tensor([1., 0., 0.]),
        gt_vertices=torch.tensor(mesh.vertices * 0.8, dtype=torch.float32),
        # one labelled keypoint at crop pixel (8, 8), one unlabelled
        gt_keypoints_2d=torch.tensor([[-0.75, -0.75, 1.], [0.5, 0.5, 0.]]))
    if heatmaps:
        logits = torch.randn(NUM_COARSE, 8, 8, generator=gen)
        sample.pred_heatmaps = logits.flatten(1).softmax(1).view(
            NUM_COARSE, 8, 8)
    return sample, mesh.faces


def fake_image(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


def local_visualizer(tmp_path, **kwargs):
    return VISUALIZERS.build(dict(
        type='MeshVisualizer', name=f'vis_{uuid.uuid4().hex}',
        vis_backends=[dict(type='LocalVisBackend')], save_dir=str(tmp_path),
        **kwargs))


def test_writes_prediction_through_local_backend(tmp_path):
    sample, faces = fake_sample()
    vis = local_visualizer(tmp_path, faces=faces)
    assert isinstance(vis, MeshVisualizer)
    image = fake_image()
    drawn = vis.add_datasample('val_mesh_0', image, sample, step=3)
    path = tmp_path / 'vis_data' / 'vis_image' / 'val_mesh_0_3.png'
    written = cv2.imread(str(path))[..., ::-1]  # back to RGB
    assert written.shape == (SIZE, 3 * SIZE, 3)
    assert np.array_equal(written, drawn)
    crop = written[:, :SIZE]
    # the mesh covers the centre, not the corner
    assert (crop[28:36, 28:36] != image[28:36, 28:36]).any(-1).all()
    assert np.array_equal(crop[60:, 60:], image[60:, 60:])
    # GT keypoint (green in RGB) at (8, 8); the unlabelled one is not drawn
    assert crop[8, 8].tolist() == [0, 255, 0]
    side = written[:, SIZE:2 * SIZE]
    assert len(np.unique(side.reshape(-1, 3), axis=0)) > 10  # shaded meshes
    assert image.sum() == fake_image().sum()  # input untouched


def test_gt_and_pred_switches(tmp_path):
    sample, faces = fake_sample(heatmaps=False)
    image = fake_image()[..., ::-1].copy()  # BGR for the pure function
    gt_only = draw_mesh_prediction(image, sample, faces, draw_pred=False)
    assert gt_only.shape == (SIZE, 2 * SIZE, 3)
    changed = np.argwhere((gt_only[:, :SIZE] != image).any(-1))
    # only the keypoint dot around (8, 8), no mesh
    assert [8, 8] in changed.tolist() and np.abs(changed - 8).max() <= 3
    nothing = draw_mesh_prediction(image, sample, faces, draw_gt=False,
                                   draw_pred=False)
    assert np.array_equal(nothing[:, :SIZE], image)
    assert len(np.unique(nothing[:, SIZE:].reshape(-1, 3), axis=0)) == 1
    # without the GT mesh the side panel shows the prediction alone
    pred_only = draw_mesh_prediction(image, sample, faces, draw_gt=False)
    both = draw_mesh_prediction(image, sample, faces)
    assert not np.array_equal(pred_only[:, SIZE:], both[:, SIZE:])


def test_heatmap_grid_places_vertices_in_order():
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    heatmaps = np.zeros((NUM_COARSE, 8, 8), np.float32)
    heatmaps[:, 0, 0] = 1.  # every vertex peaks top left ...
    heatmaps[-1] = 0.
    heatmaps[-1, 7, 7] = 1.  # ... but the last one, bottom right
    grid = draw_heatmap_grid(image, heatmaps, grid=4)
    tile = SIZE // 4
    assert grid.shape == (SIZE, SIZE, 3)
    first, last = grid[:tile, :tile], grid[-tile:, -tile:]
    # JET runs blue (cold) to red (hot); BGR order
    def hot(pixel):
        return pixel[2] > pixel[0]
    assert hot(first[0, 0]) and not hot(first[-1, -1])
    assert hot(last[-1, -1]) and not hot(last[0, 0])
    with pytest.raises(ValueError, match='pred_heatmaps'):
        draw_heatmap_grid(image, heatmaps[0])


def test_bad_input_raises_clear_errors(tmp_path):
    sample, faces = fake_sample()
    vis = local_visualizer(tmp_path)
    with pytest.raises(ValueError, match='faces'):
        vis.add_datasample('x', fake_image(), sample)
    with pytest.raises(ValueError, match='faces'):
        vis.set_faces(np.zeros((4, 2), np.int64))
    vis.set_faces(torch.as_tensor(faces))
    with pytest.raises(KeyError, match='pred_camera'):
        vis.add_datasample('x', fake_image(), BaseDataElement(
            pred_vertices=sample.pred_vertices))
    with pytest.raises(ValueError, match='square'):
        vis.add_datasample('x', fake_image()[:, :40], sample)


def test_out_file_and_tensorboard(tmp_path):
    pytest.importorskip('tensorboard', reason='tensorboard not installed')
    sample, faces = fake_sample()
    vis = VISUALIZERS.build(dict(
        type='MeshVisualizer', name=f'vis_{uuid.uuid4().hex}', faces=faces,
        vis_backends=[dict(type='TensorboardVisBackend')],
        save_dir=str(tmp_path / 'tb')))
    vis.add_datasample('val_mesh_0', fake_image(), sample, step=1)
    vis.close()  # flushes the event file
    events = list((tmp_path / 'tb').rglob('events.out.tfevents.*'))
    assert events and events[0].stat().st_size > 1000  # holds the image
    out_file = tmp_path / 'pics' / 'one.jpg'
    vis.add_datasample('val_mesh_1', fake_image(), sample, out_file=str(
        out_file))
    assert cv2.imread(str(out_file)).shape == (SIZE, 3 * SIZE, 3)
