import numpy as np
import pytest

import pointhmr_mm.synthetic.render as render

from pointhmr_mm.synthetic import SyntheticRenderer
from pointhmr_mm.synthetic.camera import FIT_MARGIN

SIZE = 64
MIN_BOX_COVER = 0.15


@pytest.fixture(scope='module')
def renderer(body_model_dir):
    return SyntheticRenderer(body_model_dir, SIZE, max_heading_deg=45.,
                             background_shapes=(0, 1))


def test_bad_arguments(body_model_dir, tmp_path):
    with pytest.raises(ValueError, match='image_size'):
        SyntheticRenderer(body_model_dir, 8)
    with pytest.raises(ValueError, match='background_shapes'):
        SyntheticRenderer(body_model_dir, SIZE, background_shapes=(3, 1))
    with pytest.raises(ValueError, match='max_heading_deg'):
        SyntheticRenderer(body_model_dir, SIZE, max_heading_deg=270.)
    with pytest.raises(FileNotFoundError):
        SyntheticRenderer(tmp_path, SIZE)


def test_sample_layout_and_labels(renderer):
    rec = renderer.sample(np.random.default_rng(0))
    assert rec['image'].shape == (SIZE, SIZE, 3)
    assert rec['image'].dtype == np.uint8
    assert rec['keypoints2d'].shape == (14, 3)
    assert rec['keypoints3d'].shape == (14, 4)
    assert rec['pose'].shape == (72, ) and rec['betas'].shape == (10, )
    assert rec['gender'] in ('n', 'm', 'f')
    x, y, w, h, _ = rec['bbox_xywh']
    margin = FIT_MARGIN * SIZE - 1e-3
    assert x >= margin and y >= margin and x + w <= SIZE - margin
    # a standing person: taller than wide in most poses, head above feet
    head_top, ankles = rec['keypoints2d'][13], rec['keypoints2d'][[0, 5]]
    assert head_top[1] < ankles[:, 1].min()


def test_genders_and_shapes_vary(renderer):
    recs = [renderer.sample(np.random.default_rng(s)) for s in range(12)]
    assert {r['gender'] for r in recs} == {'n', 'm', 'f'}
    assert np.std([r['betas'][0] for r in recs]) > 0.1
    # same seed, same sample
    again = renderer.sample(np.random.default_rng(3))
    np.testing.assert_array_equal(again['image'], recs[3]['image'])


def test_the_body_fills_its_box(renderer, monkeypatch):
    monkeypatch.setattr(render, 'random_background',
                        lambda rng, size, shapes: np.zeros((size, size, 3),
                                                           np.uint8))
    for seed in range(4):
        rec = renderer.sample(np.random.default_rng(seed))
        drawn = rec['image'].max(2) > 0
        x, y, w, h, _ = rec['bbox_xywh']
        rows, cols = np.nonzero(drawn)
        # every drawn pixel is in the box of the projected mesh ...
        assert cols.min() >= np.floor(x) - 1 and rows.min() >= np.floor(y) - 1
        assert cols.max() <= x + w + 1 and rows.max() <= y + h + 1
        # ... and the body covers a good part of it (limbs leave gaps)
        assert drawn.sum() > MIN_BOX_COVER * w * h
