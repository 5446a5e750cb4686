import numpy as np
import pytest
from skimage import data

from pointhmr_mm.apis import inference_mesh, init_model


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
    # the whole-image crop maps the image centre to the crop centre
    centre = s.crop_matrix @ np.array([256., 256., 1.])
    np.testing.assert_allclose(centre, [32., 32.], atol=1e-4)
    people = inference_mesh(model, image, [[100, 20, 300, 500],
                                           [0, 0, 50, 80]], batch_size=1)
    assert len(people) == 2
    assert not np.allclose(people[0].pred_vertices, people[1].pred_vertices)


def test_bad_inputs(model, tmp_path):
    image = np.zeros((40, 60, 3), np.uint8)
    with pytest.raises(ValueError, match='outside'):
        inference_mesh(model, image, [[100, 100, 200, 200]])
    with pytest.raises(ValueError, match='no area'):
        inference_mesh(model, image, [[10, 10, 10, 30]])
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        inference_mesh(model, str(tmp_path / 'nope.jpg'))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        init_model(model.cfg, str(tmp_path / 'missing.pth'))
