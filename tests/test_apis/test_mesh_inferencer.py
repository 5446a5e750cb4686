"""MeshInferencer: any input, boxes in either format, output folders,
prediction files without empty GT, clear checkpoint errors."""
import json

import cv2
import numpy as np
import pytest
import torch
from skimage import data
from torch import nn

from pointhmr_mm.apis import (MeshInferencer, inference_mesh, init_model,
                              load_bbox_file)

BOX_XYXY = [100., 20., 300., 500.]
BOX_XYWH = [100., 20., 200., 480.]


@pytest.fixture(scope='module')
def inferencer(tiny_checkpoint):
    return MeshInferencer(*map(str, tiny_checkpoint))


@pytest.fixture(scope='module')
def image():
    return np.ascontiguousarray(data.astronaut()[..., ::-1])  # BGR


def write_video(path, frames=3, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 5,
                             size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 60 * i + 20, np.uint8))
    writer.release()


def test_array_with_boxes_in_either_format(inferencer, image):
    xyxy = inferencer(image, bboxes=[BOX_XYXY])[0]['predictions'][0]
    xywh = inferencer(image, bboxes=[BOX_XYWH],
                      bbox_format='xywh')[0]['predictions'][0]
    np.testing.assert_allclose(xywh['bbox'], BOX_XYXY)
    np.testing.assert_allclose(xywh['vertices'], xyxy['vertices'])
    whole = inferencer(image)[0]['predictions'][0]
    assert not np.allclose(whole['vertices'], xyxy['vertices'])
    with pytest.raises(ValueError, match='bbox_format'):
        inferencer(image, bboxes=[BOX_XYXY], bbox_format='cxcywh')


def test_results_carry_no_empty_gt(inferencer, image, tmp_path):
    samples = inference_mesh(inferencer.model, image)
    assert not [k for k in samples[0].keys() if k.startswith('gt_')]
    assert 'has_smpl' not in samples[0]
    path = tmp_path / 'astronaut.jpg'
    cv2.imwrite(str(path), image)
    inferencer(path, pred_out_dir=tmp_path / 'preds')
    person = json.loads((tmp_path / 'preds' / 'astronaut.json').read_text()
                        )['people'][0]
    assert sorted(person) == ['bbox', 'camera', 'keypoints_2d',
                              'keypoints_3d', 'vertices']


def test_folder_video_and_output_folders(inferencer, image, tmp_path):
    folder = tmp_path / 'in'
    folder.mkdir()
    cv2.imwrite(str(folder / 'photo.jpg'), image)
    write_video(folder / 'clip.mp4')
    vis, preds = tmp_path / 'vis', tmp_path / 'preds'
    results = inferencer(folder, vis_out_dir=vis, pred_out_dir=preds,
                         return_vis=True)
    assert [(r['name'], r.get('frame')) for r in results] == [
        ('clip', 0), ('clip', 1), ('clip', 2), ('photo', None)]
    assert results[-1]['visualization'].shape == image.shape
    assert sorted(p.name for p in vis.iterdir()) == [
        'clip_overlay.mp4', 'photo_overlay.jpg', 'photo_side.jpg']
    arrays = np.load(preds / 'clip.npz')
    assert list(arrays['frame']) == [0, 1, 2]
    assert arrays['vertices'].shape[:2] == (3, inferencer.faces.max() + 1)


def test_video_boxes_by_frame(inferencer, tmp_path):
    video = tmp_path / 'clip.mp4'
    write_video(video)
    box = [10., 5., 40., 45.]
    results = inferencer(video, bboxes={'clip.mp4': {1: [box]}})
    np.testing.assert_allclose(results[1]['predictions'][0]['bbox'], box)
    np.testing.assert_allclose(results[0]['predictions'][0]['bbox'],
                               [0, 0, 64, 48])


def test_bbox_file_layouts(tmp_path):
    plain = tmp_path / 'plain.json'
    plain.write_text(json.dumps({'dir/a.jpg': [BOX_XYWH],
                                 'clip.mp4': [[], [BOX_XYWH]]}))
    boxes = load_bbox_file(plain, 'xywh')
    assert boxes['a.jpg'] == [BOX_XYXY] and boxes['clip.mp4'] == {
        1: [BOX_XYXY]}
    coco = tmp_path / 'coco.json'
    coco.write_text(json.dumps(dict(
        images=[dict(id=3, file_name='x/b.png')],
        annotations=[dict(image_id=3, bbox=BOX_XYWH)])))
    assert load_bbox_file(coco) == {'b.png': [BOX_XYXY]}
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'a.jpg': [[1, 2, 3]]}))
    with pytest.raises(ValueError, match='"a.jpg"'):
        load_bbox_file(bad)


def test_checkpoint_errors_are_clear(tiny_checkpoint, tmp_path):
    config, _ = tiny_checkpoint
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint')
    with pytest.raises(ValueError, match='is not a PyTorch checkpoint'):
        init_model(str(config), str(text))
    foreign = tmp_path / 'foreign.pth'
    torch.save(dict(state_dict={}, extra=Foreign()), foreign)
    with pytest.raises(ValueError, match='loads safely.*Unsupported global'):
        MeshInferencer(str(config), str(foreign))
    with pytest.raises(ValueError, match='downloads are not supported'):
        MeshInferencer(str(config), 'https://example.com/m/epoch_4.pth')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        init_model(str(config), str(tmp_path / 'missing.pth'))


class Foreign:
    """A class safe loading does not know."""


def test_show_without_display(inferencer, image, monkeypatch):
    import pointhmr_mm.apis.mesh_inferencer as module
    monkeypatch.setattr(module, 'has_display', lambda: False)
    with pytest.raises(RuntimeError, match='needs a display'):
        inferencer(image, show=True)


def test_fit_smpl_predictions_and_files(tiny_checkpoint, image, tmp_path):
    from pointhmr_mm.apis.smpl_export import load_smpl_params
    inferencer = MeshInferencer(*map(str, tiny_checkpoint), fit_smpl=True)
    path = tmp_path / 'astronaut.jpg'
    cv2.imwrite(str(path), image)
    result = inferencer(path, bboxes=[BOX_XYXY, [0, 0, 200, 200]],
                        pred_out_dir=tmp_path, smpl_out_dir=tmp_path)
    person = result[0]['predictions'][1]
    assert person['smpl_body_pose'].shape == (23, 3)
    people = json.loads((tmp_path / 'astronaut.json').read_text())['people']
    assert np.array(people[1]['smpl_betas']).shape == (10, )
    saved = load_smpl_params(tmp_path / 'astronaut_smpl.npz')
    assert saved['body_pose'].shape == (2, 23, 3)
    np.testing.assert_allclose(saved['transl'][1], person['smpl_transl'],
                               rtol=1e-6)
    plain = MeshInferencer(*map(str, tiny_checkpoint))
    with pytest.raises(ValueError, match='fit_smpl=True'):
        plain(image, smpl_out_dir=tmp_path)


def test_inferencer_folds_batch_norms_unless_asked_not_to(tiny_checkpoint,
                                                          image):
    fused = MeshInferencer(*map(str, tiny_checkpoint))
    plain = MeshInferencer(*map(str, tiny_checkpoint), fuse_conv_bn=False)
    assert not any(isinstance(m, nn.BatchNorm2d)
                   for m in fused.model.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in plain.model.modules())
    (ours, _), (ref, _) = (inf.predict(image, [BOX_XYXY])
                           for inf in (fused, plain))
    np.testing.assert_allclose(ours[0]['vertices'], ref[0]['vertices'],
                               atol=1e-4)
