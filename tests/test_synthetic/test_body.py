import shutil

import numpy as np
import pytest

from pointhmr_mm.synthetic.body import (BETA_CLIP, BETA_STD, GENDERS,
                                        SHAPE_COMPONENTS, load_bodies,
                                        load_body_parts, random_betas,
                                        random_gender)


def test_loads_every_gender_with_its_rest(body_model_dir):
    bodies = load_bodies(body_model_dir)
    assert tuple(bodies) == GENDERS
    for gender, body in bodies.items():
        assert body.gender == gender
        n = len(body.template)
        assert body.faces.shape[1] == 3 and body.faces.max() < n
        assert body.rest_joints.shape == (24, 3)
        # y up, x the body's left: the left shoulder (16) is at +x
        assert body.rest_joints[16, 0] > 0 > body.rest_joints[17, 0]
        assert body.template[:, 1].argmax() in np.flatnonzero(
            body.template[:, 1] > body.rest_joints[15, 1])
    # the genders differ in shape
    assert not np.allclose(bodies['male'].template,
                           bodies['female'].template)


def test_missing_files_are_named(body_model_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match='J_regressor_h36m'):
        load_bodies(tmp_path)
    shutil.copytree(body_model_dir, tmp_path / 'body')
    (tmp_path / 'body' / 'smpl' / 'SMPL_MALE.npz').unlink()
    assert tuple(load_bodies(tmp_path / 'body')) == ('neutral', 'female')
    (tmp_path / 'body' / 'smpl' / 'SMPL_NEUTRAL.npz').unlink()
    with pytest.raises(FileNotFoundError, match='neutral'):
        load_bodies(tmp_path / 'body')
    with pytest.raises(FileNotFoundError, match='body_parts.npz'):
        load_body_parts(tmp_path, 10)


def test_body_parts(body_model_dir, tmp_path):
    n = len(load_bodies(body_model_dir)['neutral'].template)
    parts = load_body_parts(body_model_dir, n)
    assert parts['smpl24'].shape == (n, ) and len(parts['smpl24_names']) \
        == 24
    assert 'head' in parts['anny_uv_names']
    with pytest.raises(ValueError, match='smpl24'):
        load_body_parts(body_model_dir, n + 1)
    np.savez(tmp_path / 'body_parts.npz', smpl24=parts['smpl24'])
    with pytest.raises(KeyError, match='anny_uv'):
        load_body_parts(tmp_path, n)


def test_random_shapes_and_genders():
    rng = np.random.default_rng(0)
    betas = np.stack([random_betas(rng) for _ in range(2000)])
    assert betas.shape == (2000, SHAPE_COMPONENTS)
    assert (np.abs(betas) <= BETA_CLIP * np.asarray(BETA_STD) + 1e-6).all()
    np.testing.assert_allclose(betas.std(0), BETA_STD, rtol=0.15)
    drawn = {random_gender(rng, GENDERS) for _ in range(50)}
    assert drawn == set(GENDERS)
