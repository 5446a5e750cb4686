import pickle
import shutil

import numpy as np
import pytest
import torch

from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.models.body_models.mannequin import generate_mannequin


@pytest.fixture(scope='module')
def arrays():
    model = generate_mannequin(600, seed=0)
    model.pop('J_regressor_h36m')
    return model


def test_pickle_and_npz_give_the_same_vertices(tmp_path, arrays):
    pkl, npz = tmp_path / 'a.pkl', tmp_path / 'b.npz'
    with open(pkl, 'wb') as f:
        pickle.dump(arrays, f, protocol=2)
    np.savez(npz, **{k: (v.toarray() if hasattr(v, 'toarray') else v)
                     for k, v in arrays.items()})
    pose = torch.randn(2, 72) * 0.3
    betas = torch.randn(2, 10)
    a = SMPL(str(pkl))(betas=betas, pose=pose)
    b = SMPL(str(npz))(betas=betas, pose=pose)
    assert a['vertices'].shape == (2, 601, 3) or a['vertices'].shape[0] == 2
    assert a['joints'].shape == (2, 24, 3)
    torch.testing.assert_close(a['vertices'], b['vertices'])


def test_folder_layouts(tmp_path, mannequin_dir):
    assert SMPL(str(mannequin_dir)).model_file.name == 'SMPL_NEUTRAL.pkl'
    assert SMPL(str(mannequin_dir / 'smpl'), gender='female').gender == \
        'female'
    metro = tmp_path / 'metro'
    metro.mkdir()
    shutil.copy(mannequin_dir / 'smpl' / 'SMPL_MALE.pkl',
                metro / 'basicmodel_m_lbs_10_207_0_v1.0.0.pkl')
    assert SMPL(str(metro), gender='male').num_vertices > 0
    with pytest.raises(FileNotFoundError, match='basicModel_f_lbs'):
        SMPL(str(metro), gender='female')


def test_missing_key_and_bad_regressor(tmp_path, arrays, mannequin_dir):
    broken = {k: v for k, v in arrays.items() if k != 'shapedirs'}
    path = tmp_path / 'SMPL_NEUTRAL.pkl'
    with open(path, 'wb') as f:
        pickle.dump(broken, f, protocol=2)
    with pytest.raises(KeyError, match="SMPL_NEUTRAL.pkl has no key "
                       "'shapedirs'"):
        SMPL(str(path))
    bad = tmp_path / 'J_bad.npy'
    np.save(bad, np.zeros((17, 5)))
    with pytest.raises(ValueError, match='J_bad.npy'):
        SMPL(str(mannequin_dir), joint_regressors=dict(h36m=str(bad)))
    with pytest.raises(ValueError, match='num_betas'):
        SMPL(str(mannequin_dir), num_betas=20)


def test_extra_regressors(mannequin_dir):
    body = SMPL(str(mannequin_dir), joint_regressors=dict(
        h36m=str(mannequin_dir / 'J_regressor_h36m.npy'),
        extra=str(mannequin_dir / 'J_regressor_extra.npy')))
    out = body(betas=torch.zeros(3, 10))
    assert out['h36m'].shape == (3, 17, 3) and out['extra'].shape == (3, 14, 3)
    with pytest.raises(KeyError, match='no joint regressor'):
        body.regress(out['vertices'], 'coco')
