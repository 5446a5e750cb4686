"""The demo on a real photograph and the ONNX export, as a user runs
them."""
import json

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from toolbox import ROOT, load_tool, run_tool


def run_demo(*args):
    """tools/demo.py as a user runs it, from the repository."""
    return run_tool('demo', *args, cwd=ROOT, timeout=600)


@pytest.mark.slow
def test_demo_writes_every_output(tiny_checkpoint, tmp_path):
    config, ckpt = tiny_checkpoint
    images = tmp_path / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'astronaut.jpg'), data.astronaut()[..., ::-1])
    (images / 'broken.jpg').write_bytes(b'not an image')
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({'astronaut.jpg': [[120, 10, 420, 510],
                                                   [900, 900, 950, 990]]}))
    out = tmp_path / 'out'
    result = run_demo(config, ckpt, images, '--out-dir', out,
                      '--bbox-file', boxes, '--mesh-formats', 'obj', 'glb',
                      '--draw-bbox', '--cfg-options',
                      'model.test_cfg.output_heatmaps=False')
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert 'broken.jpg' in log and 'outside' in log
    overlay = cv2.imread(str(out / 'vis' / 'astronaut_overlay.jpg'))
    assert overlay.shape == (512, 512, 3)
    side = cv2.imread(str(out / 'vis' / 'astronaut_side.jpg'))
    assert side is not None and side.std() > 0
    preds = out / 'predictions'
    mesh = (preds / 'astronaut_person0.obj').read_text()
    assert mesh.count('\nv ') + mesh.startswith('v ') > 100
    assert (preds / 'astronaut_person0.glb').is_file()
    assert not (preds / 'astronaut_person1.obj').exists()
    info = json.loads((preds / 'astronaut.json').read_text())
    person = info['people'][0]
    assert np.array(person['mesh_keypoints_2d']).shape == (14, 2)
    assert len(person['camera']) == 3 and len(person['cam_t_full']) == 3


def write_clip(path, frames):
    """A 64 x 48 mp4 of ``frames`` flat grey frames, 5 fps."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 5,
                             (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    return path


@pytest.mark.slow
def test_demo_on_video_with_a_detector_and_empty_folder(tiny_checkpoint,
                                                        tmp_path):
    from torchvision.models.detection import \
        fasterrcnn_mobilenet_v3_large_fpn
    config, ckpt = tiny_checkpoint
    video = write_clip(tmp_path / 'clip.mp4', 3)
    weights = tmp_path / 'detector.pth'
    torch.save(fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None).state_dict(), weights)
    out = tmp_path / 'out'
    result = run_demo(config, ckpt, video, '--out-dir', out,
                      '--det-model', 'fasterrcnn_mobilenet_v3_large_fpn',
                      '--det-weights', weights, '--smooth')
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    # random weights find nobody: said so, then the whole frame
    assert 'fasterrcnn_mobilenet_v3_large_fpn' in log
    assert 'the detector found nobody' in log
    arrays = np.load(out / 'predictions' / 'clip.npz')
    assert arrays['vertices_cam'].shape[0] == 3
    assert list(arrays['track_id']) == [0, 0, 0]
    assert cv2.VideoCapture(str(out / 'vis' / 'clip_overlay.mp4')).isOpened()
    empty = tmp_path / 'empty'
    empty.mkdir()
    result = run_demo(config, ckpt, empty)
    assert result.returncode != 0 and 'no images' in result.stderr


def test_onnx_matches_pytorch(tiny_checkpoint, tmp_path):
    ort = pytest.importorskip('onnxruntime')
    export = load_tool('deploy/export_onnx').export
    config, ckpt = tiny_checkpoint
    wrapper, size = export(str(config), str(ckpt), tmp_path / 'tiny.onnx')
    session = ort.InferenceSession(str(tmp_path / 'tiny.onnx'))
    for batch in (1, 3):  # the batch axis is dynamic
        image = torch.rand(batch, 3, size, size) * 255
        with torch.no_grad():
            expected = wrapper(image)
        got = session.run(None, {'image': image.numpy()})
        for e, g in zip(expected, got):
            np.testing.assert_allclose(g, e.numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_demo_folder_names_skips_and_video_boxes(tiny_checkpoint, tmp_path):
    config, ckpt = tiny_checkpoint
    folder = tmp_path / 'in'
    folder.mkdir()
    photo = data.astronaut()[..., ::-1]
    cv2.imwrite(str(folder / 'a.jpg'), photo)
    cv2.imwrite(str(folder / 'a.png'), photo[::2, ::2])
    (folder / 'notes.txt').write_text('not an image')
    writer = cv2.VideoWriter(str(folder / 'clip.mp4'),
                             cv2.VideoWriter_fourcc(*'mp4v'), 5, (64, 48))
    for i in range(2):
        writer.write(np.full((48, 64, 3), 50 + 80 * i, np.uint8))
    writer.release()
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({'clip.mp4': {'1': [[4, 2, 30, 20]]},
                                 'a.jpg': [], 'a.png': []}))
    out = tmp_path / 'out'
    result = run_demo(config, ckpt, folder, '--out-dir', out,
                      '--bbox-file', boxes, '--bbox-format', 'xywh')
    assert result.returncode == 0, result.stderr[-3000:]
    # same stem, different images: both kept
    preds = out / 'predictions'
    jpg = json.loads((preds / 'a_jpg.json').read_text())
    png = json.loads((preds / 'a_png.json').read_text())
    assert jpg['image'].endswith('a.jpg') and png['image'].endswith('a.png')
    assert (out / 'vis' / 'a_jpg_overlay.jpg').is_file()
    assert (out / 'vis' / 'a_png_overlay.jpg').is_file()
    log = result.stdout + result.stderr
    assert 'skipped notes.txt: not an image or video' in log
    # the video's frame 1 used its (xywh) box, frame 0 the whole frame
    arrays = np.load(preds / 'clip.npz')
    np.testing.assert_allclose(arrays['bbox'],
                               [[0, 0, 64, 48], [4, 2, 34, 22]])


def test_demo_strict_boxes_and_unwritable_out_dir(tiny_checkpoint,
                                                   tmp_path):
    demo = load_tool('demo')
    config, ckpt = tiny_checkpoint
    image = tmp_path / 'a.jpg'
    cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({'other.jpg': [[0, 0, 10, 10]]}))
    with pytest.raises(SystemExit, match='a.jpg: no entry in the box file'):
        demo.main([str(config), str(ckpt), str(image), '--bbox-file',
                   str(boxes), '--strict-boxes', '--out-dir',
                   str(tmp_path / 'out')])
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(SystemExit, match='--out-dir .*/file/out cannot be'):
        demo.main([str(config), str(ckpt), str(image), '--out-dir',
                   str(blocker / 'out')])


def test_demo_checkpoint_errors(tiny_checkpoint, tmp_path):
    demo = load_tool('demo')
    config, _ = tiny_checkpoint
    image = tmp_path / 'a.jpg'
    cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    text = tmp_path / 'epoch_4.pth'
    text.write_text('<html>Not Found</html>')
    with pytest.raises(SystemExit, match='is not a PyTorch checkpoint'):
        demo.main([str(config), str(text), str(image)])
    with pytest.raises(SystemExit,
                       match='downloads are not supported.*checkpoints/'):
        demo.main([str(config), 'https://host/pointhmr.pth', str(image)])


def test_demo_smpl_params(tiny_checkpoint, tmp_path):
    from pointhmr_mm.apis.smpl_export import load_smpl_params
    demo = load_tool('demo')
    config, ckpt = tiny_checkpoint
    image = tmp_path / 'a.jpg'
    cv2.imwrite(str(image), data.astronaut()[..., ::-1])
    demo.main([str(config), str(ckpt), str(image), '--out-dir',
               str(tmp_path / 'out'), '--smpl-params'])
    preds = tmp_path / 'out' / 'predictions'
    saved = load_smpl_params(preds / 'a_smpl.npz')
    assert saved['global_orient'].shape == (1, 3)
    person = json.loads((preds / 'a.json').read_text())['people'][0]
    np.testing.assert_allclose(person['smpl_transl'], saved['transl'][0],
                               rtol=1e-5)
    np.testing.assert_allclose(person['smpl_global_orient'],
                               saved['global_orient'][0], rtol=1e-5)


def test_demo_video_writes_results_video_and_track_exports(tiny_checkpoint,
                                                           tmp_path):
    demo = load_tool('demo')
    config, ckpt = tiny_checkpoint
    video = write_clip(tmp_path / 'walk.mp4', 4)
    out = tmp_path / 'out'
    assert demo.main([str(config), str(ckpt), str(video), '--out-dir',
                      str(out), '--smpl-params', '--smooth',
                      '--mesh-formats', 'obj', 'glb']) == 0
    preds = out / 'predictions'
    results = np.load(preds / 'walk.npz')
    assert list(results['frame']) == [0, 1, 2, 3]
    assert cv2.VideoCapture(str(out / 'vis' / 'walk_overlay.mp4')).isOpened()
    assert (preds / 'walk_track0.glb').is_file()
    bvh = (preds / 'walk_track0.bvh').read_text()
    assert bvh.startswith('HIERARCHY') and 'Frames: 4' in bvh
