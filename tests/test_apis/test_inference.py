"""inference_mesh and init_model: the config's test pipeline, boxes, the
full-image camera and strict checkpoint loading."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image
from skimage import data

from toolbox.tiny_model import TINY_IMAGE

from pointhmr_mm.apis import (build_test_pipeline, focal_from_exif,
                              inference_mesh, init_model, resolve_focal)
from pointhmr_mm.apis.inference import crop_size_of


@pytest.fixture(scope='module')
def model(tiny_checkpoint):
    return init_model(*map(str, tiny_checkpoint))


def test_boxes_and_whole_image(model):
    image = data.astronaut()[..., ::-1].copy()  # RGB -> BGR
    whole = inference_mesh(model, image)
    assert len(whole) == 1
    s = whole[0]
    assert s.pred_vertices.shape == (model.body_model.num_vertices, 3)
    assert s.crop_matrix.shape == (2, 3)
    crop = crop_size_of(model)
    # the whole-image crop maps the image centre to the crop centre
    centre = s.crop_matrix @ np.array([256., 256., 1.])
    np.testing.assert_allclose(centre, [crop / 2, crop / 2], atol=1e-4)
    assert s.pred_cam_t_full.shape == (3, )
    assert s.focal_length == pytest.approx(512 * 2**0.5)
    people = inference_mesh(model, image, [[100, 20, 300, 500],
                                           [0, 0, 50, 80]], batch_size=1)
    assert len(people) == 2
    assert not np.allclose(people[0].pred_vertices, people[1].pred_vertices)
    # a longer focal length puts the same crop farther away
    far = inference_mesh(model, image, [[100, 20, 300, 500]],
                         focal_length=2000.)[0]
    ratio = far.pred_cam_t_full[2] / people[0].pred_cam_t_full[2]
    assert float(ratio) == pytest.approx(2000. / (512 * 2**0.5), rel=1e-4)


def test_pipeline_comes_from_the_config(model):
    cfg = Config(dict(model.cfg.to_dict()))
    cfg.test_dataloader = dict(dataset=dict(pipeline=[
        dict(type='LoadMeshImage'),
        dict(type='MeshRandomAugParams', test_mode=True),
        dict(type='MeshAffineCrop', crop_size=48),
        dict(type='PackMeshInputs')]))
    holder = torch.nn.Module()
    holder.cfg = cfg
    steps = [type(t).__name__ for t in build_test_pipeline(holder).transforms]
    assert steps == ['LoadMeshImage', 'MeshRandomAugParams',
                     'MeshAffineCrop', 'PackMeshInputs']
    assert build_test_pipeline(holder).transforms[-1].with_labels is False
    # the steps are the config's; the crop is the model's input size
    assert build_test_pipeline(holder).transforms[2].crop_size == TINY_IMAGE
    # without a pipeline: the model's input size, three steps
    holder.cfg = Config(dict(model=cfg.model))
    crop = build_test_pipeline(holder).transforms[1]
    assert type(crop).__name__ == 'MeshAffineCrop'
    assert crop.crop_size == model.mesh_targets.crop_size == TINY_IMAGE


def test_bad_inputs(model, tmp_path):
    image = np.zeros((40, 60, 3), np.uint8)
    with pytest.raises(ValueError, match='outside'):
        inference_mesh(model, image, [[100, 100, 200, 200]])
    with pytest.raises(ValueError, match='no area'):
        inference_mesh(model, image, [[10, 10, 10, 30]])
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        inference_mesh(model, str(tmp_path / 'nope.jpg'))
    with pytest.raises(ValueError, match='focal_length'):
        inference_mesh(model, image, focal_length=-1.)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        init_model(model.cfg, str(tmp_path / 'missing.pth'))


def test_focal_length_from_exif_or_the_diagonal(tmp_path):
    photo = tmp_path / 'photo.jpg'
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 50  # FocalLengthIn35mmFilm, mm
    Image.new('RGB', (300, 200)).save(photo, exif=exif)
    diagonal = (300**2 + 200**2)**0.5
    expected = 50 / (36**2 + 24**2)**0.5 * diagonal
    assert focal_from_exif(photo, 200, 300) == pytest.approx(expected)
    assert resolve_focal(200, 300, None, photo) == (
        pytest.approx(expected), 'exif')
    plain = tmp_path / 'plain.png'
    Image.new('RGB', (300, 200)).save(plain)
    assert focal_from_exif(plain, 200, 300) is None
    assert resolve_focal(200, 300, None, plain) == (
        pytest.approx(diagonal), 'diagonal')
    assert resolve_focal(200, 300, 800., photo) == (800., 'user')
