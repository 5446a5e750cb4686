import json

import pytest
from mmengine.config import Config

from pointhmr_mm.synthetic import ensure_quickstart_assets, stored_settings
from pointhmr_mm.synthetic.preview import sample_grid
from pointhmr_mm.synthetic.quickstart import prepare_config_assets

SPEC = dict(num_vertices=300, mesh_levels=(150, 60), num_train=2,
            num_val=1, image_size=32, max_heading_deg=45.,
            background_shapes=(0, 2))


def test_makes_the_body_and_the_splits(tmp_path):
    ensure_quickstart_assets(tmp_path, **SPEC)
    body = tmp_path / 'body_models'
    for name in ('smpl/SMPL_NEUTRAL.npz', 'smpl/SMPL_FEMALE.npz',
                 'J_regressor_h36m.npy', 'body_parts.npz',
                 'mesh_downsampling.npz'):
        assert (body / name).is_file(), name
    assert json.loads((body / 'anny_body.json').read_text())[
        'num_vertices'] == SPEC['num_vertices']
    settings = stored_settings(tmp_path / 'synthetic' / 'train.npz')
    assert settings['num'] == 2 and settings['max_heading_deg'] == 45.
    # a second call keeps everything
    stamp = (body / 'smpl/SMPL_NEUTRAL.npz').stat().st_mtime_ns
    ensure_quickstart_assets(tmp_path, **SPEC)
    assert (body / 'smpl/SMPL_NEUTRAL.npz').stat().st_mtime_ns == stamp


def test_refuses_another_kept_body(tmp_path):
    old = tmp_path / 'body_models' / 'smpl'
    old.mkdir(parents=True)
    (old / 'SMPL_NEUTRAL.pkl').write_bytes(b'')  # an older mannequin
    with pytest.raises(FileExistsError, match='body_parts.npz'):
        ensure_quickstart_assets(tmp_path, **SPEC)
    assert not (tmp_path / 'synthetic').exists()
    ensure_quickstart_assets(tmp_path / 'other', **SPEC)
    with pytest.raises(FileExistsError, match='300-vertex body'):
        ensure_quickstart_assets(tmp_path / 'other',
                                 **dict(SPEC, num_vertices=400))


def test_prepare_config_assets(tmp_path):
    prepare_config_assets(Config(dict()))  # nothing asked: nothing done
    cfg = Config(dict(quickstart_assets=dict(root=str(tmp_path), **SPEC)))
    prepare_config_assets(cfg)
    assert (tmp_path / 'synthetic' / 'val.npz').is_file()


def test_sample_grid(body_model_dir, tmp_path):
    import cv2
    out = sample_grid(body_model_dir, tmp_path / 'grid.jpg', rows=2, cols=3,
                      image_size=40)
    assert cv2.imread(str(out)).shape == (80, 120, 3)
    with pytest.raises(ValueError, match='rows and cols'):
        sample_grid(body_model_dir, tmp_path / 'g.jpg', rows=0)
