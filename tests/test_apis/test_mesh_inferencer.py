"""MeshInferencer: any input, mmpose's keywords, results yielded, output
folders, and the failures a new user met (names, truncated files, box
files, foreign checkpoints, unwritable folders)."""
import json
import logging

import cv2
import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from skimage import data
from torch import nn

from pointhmr_mm.apis import (MeshInferencer, inference_mesh, init_model,
                              load_bbox_file)
from pointhmr_mm.apis.boxes import MissingBoxesError

BOX_XYXY = [100., 20., 300., 500.]
BOX_XYWH = [100., 20., 200., 480.]


@pytest.fixture(scope='module')
def inferencer(tiny_checkpoint):
    return MeshInferencer(*map(str, tiny_checkpoint))


@pytest.fixture(scope='module')
def image():
    return np.ascontiguousarray(data.astronaut()[..., ::-1])  # BGR


@pytest.fixture
def warnings_seen():
    """Messages logged at WARNING and above through mmengine's logger."""
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler = Keep(level=logging.WARNING)
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield seen
    logger.removeHandler(handler)


def write_video(path, frames=3, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 5,
                             size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 60 * i + 20, np.uint8))
    writer.release()


def test_array_with_boxes_in_either_format(inferencer, image):
    xyxy = next(inferencer(image, bboxes=[BOX_XYXY]))['predictions'][0]
    xywh = inferencer(image, bboxes=[BOX_XYWH], bbox_format='xywh',
                      return_list=True)[0]['predictions'][0]
    np.testing.assert_allclose(xywh['bbox'], BOX_XYXY)
    np.testing.assert_allclose(xywh['vertices'], xyxy['vertices'])
    whole = next(inferencer(image))['predictions'][0]
    assert not np.allclose(whole['vertices'], xyxy['vertices'])
    with pytest.raises(ValueError, match='bbox_format'):
        inferencer(image, bboxes=[BOX_XYXY], bbox_format='cxcywh')


def test_records_name_joints_by_their_source(inferencer, image):
    person = inferencer.predict(image, [BOX_XYXY])[0]
    sample = inference_mesh(inferencer.model, image, [BOX_XYXY])[0]
    # keypoints_3d: the joint tokens, as the model's pred_keypoints_3d
    np.testing.assert_allclose(person['keypoints_3d'],
                               sample.pred_keypoints_3d.numpy(), atol=1e-5)
    assert person['mesh_keypoints_3d'].shape == (14, 3)
    assert not np.allclose(person['mesh_keypoints_3d'],
                           person['keypoints_3d'])
    np.testing.assert_allclose(person['vertices_cam'],
                               person['vertices'] + person['cam_t_full'],
                               rtol=1e-6)
    assert person['cam_t_full'][2] > 0  # in front of the camera


def test_results_carry_no_gt_and_files_list_fields(inferencer, image,
                                                   tmp_path):
    samples = inference_mesh(inferencer.model, image)
    assert not [k for k in samples[0].keys() if k.startswith('gt_')]
    assert 'has_smpl' not in samples[0]
    path = tmp_path / 'astronaut.jpg'
    cv2.imwrite(str(path), image)
    list(inferencer(path, pred_out_dir=tmp_path / 'preds'))
    info = json.loads((tmp_path / 'preds' / 'astronaut.json').read_text())
    assert info['image_hw'] == [512, 512]
    assert info['focal_length'] == pytest.approx(512 * 2**0.5)
    assert sorted(info['people'][0]) == sorted([
        'bbox', 'camera', 'cam_t_full', 'keypoints_3d', 'keypoints_3d_cam',
        'keypoints_3d_h36m', 'mesh_keypoints_2d', 'mesh_keypoints_3d',
        'mesh_keypoints_3d_cam', 'vertices', 'vertices_cam'])


def test_call_yields_and_takes_mmpose_keywords(inferencer, image, tmp_path):
    results = inferencer([image, image], bboxes=None, out_dir=tmp_path,
                         batch_size=2, return_vis=True, draw_bbox=True,
                         thickness=5, radius=4)
    assert not isinstance(results, list)
    first = next(results)
    assert first['visualization'].shape == image.shape
    assert len(list(results)) == 1
    assert sorted(p.name for p in (tmp_path / 'vis').iterdir()) == [
        'array_0_overlay.jpg', 'array_0_side.jpg', 'array_1_overlay.jpg',
        'array_1_side.jpg']
    assert (tmp_path / 'predictions' / 'array_1.json').is_file()
    plain = next(inferencer(image, return_vis=True))['visualization']
    boxed = first['visualization']
    # the whole-image box is drawn along the border
    assert np.abs(boxed[:3].astype(int) - plain[:3]).sum() > 0
    with pytest.raises(TypeError, match='no_such_option'):
        inferencer(image, no_such_option=1)
    with pytest.raises(ValueError, match='batch_size'):
        inferencer(image, batch_size=0)


def test_crops_of_several_images_share_a_batch(inferencer, image):
    small = cv2.resize(image, (256, 256))
    one = MeshInferencer.predict_many
    calls = []

    def counting(self, jobs, batch_size=None):
        calls.append(len(jobs))
        return one(self, jobs, batch_size)

    MeshInferencer.predict_many = counting
    try:
        together = inferencer([image, small], batch_size=8,
                              return_list=True)
        apart = inferencer([image, small], batch_size=1, return_list=True)
    finally:
        MeshInferencer.predict_many = one
    assert calls == [2, 1, 1]
    assert inferencer.batch_size == 16  # a call's batch_size is its own
    for a, b in zip(together, apart):
        np.testing.assert_allclose(a['predictions'][0]['vertices'],
                                   b['predictions'][0]['vertices'],
                                   atol=1e-4)


def test_folder_video_and_output_folders(inferencer, image, tmp_path):
    folder = tmp_path / 'in'
    folder.mkdir()
    cv2.imwrite(str(folder / 'photo.jpg'), image)
    write_video(folder / 'clip.mp4')
    out = tmp_path / 'out'
    results = list(inferencer(folder, out_dir=out, return_vis=True))
    assert [(r['name'], r.get('frame')) for r in results] == [
        ('clip', 0), ('clip', 1), ('clip', 2), ('photo', None)]
    assert [r['predictions'][0]['track_id'] for r in results[:3]] == \
        [0, 0, 0]
    assert results[-1]['visualization'].shape == image.shape
    assert sorted(p.name for p in (out / 'vis').iterdir()) == [
        'clip_overlay.mp4', 'photo_overlay.jpg', 'photo_side.jpg']
    arrays = np.load(out / 'predictions' / 'clip.npz')
    assert list(arrays['frame']) == [0, 1, 2]
    assert list(arrays['track_id']) == [0, 0, 0]
    assert arrays['vertices_cam'].shape[:2] == (3,
                                                inferencer.faces.max() + 1)


def test_video_boxes_by_frame(inferencer, tmp_path):
    video = tmp_path / 'clip.mp4'
    write_video(video)
    box = [10., 5., 40., 45.]
    results = list(inferencer(video, bboxes={'clip.mp4': {1: [box]}}))
    np.testing.assert_allclose(results[1]['predictions'][0]['bbox'], box)
    np.testing.assert_allclose(results[0]['predictions'][0]['bbox'],
                               [0, 0, 64, 48])


def test_output_names_keep_the_relative_path(inferencer, image, tmp_path):
    for cam in ('cam1', 'cam2'):
        (tmp_path / cam).mkdir()
        cv2.imwrite(str(tmp_path / cam / '000001.jpg'), image)
    out = tmp_path / 'out'
    results = list(inferencer([tmp_path / 'cam1', tmp_path / 'cam2'],
                              out_dir=out))
    assert [r['name'] for r in results] == ['cam1/000001', 'cam2/000001']
    for cam in ('cam1', 'cam2'):
        info = json.loads((out / 'predictions' / cam /
                           '000001.json').read_text())
        assert info['image'].endswith(f'{cam}/000001.jpg')
        assert (out / 'vis' / cam / '000001_overlay.jpg').is_file()


def test_truncated_jpeg_is_refused_everywhere(inferencer, image, tmp_path):
    ok, data_ = cv2.imencode('.jpg', image)
    cut = tmp_path / 'cut.jpg'
    cut.write_bytes(data_.tobytes()[:len(data_) * 2 // 3])
    with pytest.raises(ValueError, match='truncated JPEG'):
        list(inferencer(cut))
    with pytest.raises(ValueError, match='truncated JPEG'):
        inference_mesh(inferencer.model, str(cut))
    results = list(inferencer(cut, skip_errors=True))
    assert results == [] and 'truncated' in inferencer.skipped[0][1]


def test_box_file_without_an_entry_warns_or_stops(inferencer, image,
                                                  tmp_path, warnings_seen):
    folder = tmp_path / 'in'
    folder.mkdir()
    for name in ('a.jpg', 'b.jpg'):
        cv2.imwrite(str(folder / name), image)
    boxes = {'a.jpg': [BOX_XYXY]}
    results = list(inferencer(folder, bboxes=boxes))
    np.testing.assert_allclose(results[0]['predictions'][0]['bbox'],
                               BOX_XYXY)
    np.testing.assert_allclose(results[1]['predictions'][0]['bbox'],
                               [0, 0, 512, 512])
    assert any('b.jpg: no entry in the box file' in m
               for m in warnings_seen)
    with pytest.raises(MissingBoxesError, match='b.jpg: no entry.*strict'):
        list(inferencer(folder, bboxes=boxes, strict_boxes=True,
                        skip_errors=True))


def test_detector_boxes_come_between_box_file_and_whole_image(
        tiny_checkpoint, image, warnings_seen):
    found = []

    def detector(img):
        found.append(img.shape)
        return np.array([[100., 20., 300., 500., 0.9]])

    inferencer = MeshInferencer(*map(str, tiny_checkpoint),
                                detector=detector)
    person = next(inferencer(image))['predictions'][0]
    np.testing.assert_allclose(person['bbox'], BOX_XYXY)
    assert found == [image.shape]
    given = next(inferencer(image, bboxes=[[0, 0, 50, 80]]))
    np.testing.assert_allclose(given['predictions'][0]['bbox'],
                               [0, 0, 50, 80])
    assert len(found) == 1  # given boxes win; the detector is not run
    inferencer.detector = lambda img: np.zeros((0, 5))
    whole = next(inferencer(image))['predictions'][0]
    np.testing.assert_allclose(whole['bbox'], [0, 0, 512, 512])
    assert any('found nobody' in m for m in warnings_seen)


def test_checkpoint_of_another_architecture_is_refused(tiny_checkpoint,
                                                       tmp_path):
    config, ckpt = tiny_checkpoint
    state = torch.load(ckpt, weights_only=True)['state_dict']
    key = next(k for k, v in state.items() if v.dim() == 4)
    state[key] = torch.zeros(3, 3, 1, 1)
    state['head.extra.weight'] = torch.zeros(2)
    other = tmp_path / 'other.pth'
    torch.save(dict(state_dict=state), other)
    with pytest.raises(RuntimeError) as err:
        MeshInferencer(str(config), str(other))
    message = str(err.value)
    assert 'other.pth' in message and key in message
    assert 'head.extra.weight' in message
    init_model(str(config), str(other), strict=False)  # the escape hatch


def test_unwritable_output_folder_fails_before_any_work(inferencer, image,
                                                        tmp_path):
    blocker = tmp_path / 'file.txt'
    blocker.write_text('a file, not a folder')
    calls = []
    inferencer_predict = inferencer.predict_many
    inferencer.predict_many = lambda *args: calls.append(args)
    try:
        with pytest.raises(PermissionError, match='file.txt/out'):
            inferencer(image, out_dir=blocker / 'out')
    finally:
        inferencer.predict_many = inferencer_predict
    assert calls == []


def test_bbox_file_layouts(tmp_path):
    plain = tmp_path / 'plain.json'
    plain.write_text(json.dumps({'dir/a.jpg': [BOX_XYWH],
                                 'clip.mp4': [[], [BOX_XYWH]]}))
    boxes = load_bbox_file(plain, 'xywh')
    assert boxes['dir/a.jpg'] == [BOX_XYXY] and boxes['clip.mp4'] == {
        1: [BOX_XYXY]}
    coco = tmp_path / 'coco.json'
    coco.write_text(json.dumps(dict(
        images=[dict(id=3, file_name='x/b.png')],
        annotations=[dict(image_id=3, bbox=BOX_XYWH)])))
    assert load_bbox_file(coco) == {'x/b.png': [BOX_XYXY]}
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


def test_fit_smpl_files_carry_a_camera_translation(tiny_checkpoint, image,
                                                   tmp_path):
    from pointhmr_mm.apis.smpl_export import load_smpl_params
    inferencer = MeshInferencer(*map(str, tiny_checkpoint), fit_smpl=True)
    path = tmp_path / 'astronaut.jpg'
    cv2.imwrite(str(path), image)
    result = next(inferencer(path, bboxes=[BOX_XYXY, [0, 0, 200, 200]],
                             out_dir=tmp_path / 'out',
                             mesh_formats=['obj', 'glb']))
    person = result['predictions'][1]
    assert person['smpl_body_pose'].shape == (23, 3)
    sample = inference_mesh(inferencer.model, image,
                            [BOX_XYXY, [0, 0, 200, 200]])[1]
    np.testing.assert_allclose(
        person['smpl_transl'],
        (sample.pred_smpl_transl + sample.pred_cam_t_full).numpy(),
        rtol=1e-4, atol=1e-5)
    preds = tmp_path / 'out' / 'predictions'
    people = json.loads((preds / 'astronaut.json').read_text())['people']
    assert np.array(people[1]['smpl_betas']).shape == (10, )
    saved = load_smpl_params(preds / 'astronaut_smpl.npz')
    assert saved['body_pose'].shape == (2, 23, 3)
    np.testing.assert_allclose(saved['transl'][1], person['smpl_transl'],
                               rtol=1e-6)
    assert (preds / 'astronaut_person1.glb').is_file()
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
    ours, ref = (inf.predict(image, [BOX_XYXY]) for inf in (fused, plain))
    np.testing.assert_allclose(ours[0]['vertices'], ref[0]['vertices'],
                               atol=1e-4)


def test_video_with_smpl_writes_bvh_and_smooths_tracks(tiny_checkpoint,
                                                       tmp_path):
    from pointhmr_mm.apis.video_io import load_video_results
    video = tmp_path / 'walk.mp4'
    write_video(video, frames=4)
    inferencer = MeshInferencer(*map(str, tiny_checkpoint), fit_smpl=True)
    raw = list(inferencer(video, out_dir=tmp_path / 'raw'))
    smooth = list(inferencer(video, out_dir=tmp_path / 'smooth',
                             smooth=True, smooth_min_cutoff=0.05,
                             smooth_beta=0., mesh_formats=['glb']))
    preds = tmp_path / 'smooth' / 'predictions'
    assert (preds / 'walk_track0.bvh').read_text().startswith('HIERARCHY')
    assert (preds / 'walk_smpl.npz').is_file()
    assert (preds / 'walk_track0.glb').is_file()
    results = load_video_results(preds / 'walk.npz')
    assert results['num_frames'] == 4 and list(results['track_id']) == [0] * 4

    def jitter(frames):
        verts = np.stack([f['predictions'][0]['vertices_cam']
                          for f in frames])
        return np.abs(np.diff(verts, 2, axis=0)).mean()

    # the first frame passes unchanged; later ones move less
    np.testing.assert_allclose(smooth[0]['predictions'][0]['vertices_cam'],
                               raw[0]['predictions'][0]['vertices_cam'],
                               rtol=1e-5, atol=1e-6)
    assert jitter(smooth) < jitter(raw)
    person = smooth[-1]['predictions'][0]
    np.testing.assert_allclose(person['vertices_cam'],
                               person['vertices'] + person['cam_t_full'])


def test_video_missing_from_box_file_warns(inferencer, tmp_path,
                                           warnings_seen):
    video = tmp_path / 'clip.mp4'
    write_video(video, frames=2)
    results = list(inferencer(video, bboxes={'other.jpg': [BOX_XYXY]}))
    assert len(results) == 2
    assert any('clip.mp4: no entry in the box file' in m
               for m in warnings_seen)


def test_photo_exif_sets_the_focal_length(inferencer, image, tmp_path):
    from PIL import Image
    photo = tmp_path / 'photo.jpg'
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 28  # FocalLengthIn35mmFilm, mm
    Image.fromarray(image[..., ::-1]).save(photo, exif=exif)
    result = next(inferencer(photo))
    expected = 28 / (36**2 + 24**2)**0.5 * 512 * 2**0.5
    assert result['focal_length'] == pytest.approx(expected)
    given = next(inferencer(photo, focal_length=1000.))
    ratio = given['predictions'][0]['cam_t_full'][2] / \
        result['predictions'][0]['cam_t_full'][2]
    assert ratio == pytest.approx(1000. / expected, rel=1e-4)
