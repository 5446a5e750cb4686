"""SMPL on smplx: file formats, folder layouts, regressors, input checks."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from pointhmr_mm.models.body_models import SMPL, find_body_model_file
from pointhmr_mm.models.body_models.smpl import load_body_model_arrays
from pointhmr_mm.registry import MODELS


@pytest.fixture(scope='module')
def arrays(body_model_dir):
    """The test body's arrays, its regressor sparse as in official SMPL."""
    model = load_body_model_arrays(body_model_dir / 'smpl' /
                                   'SMPL_NEUTRAL.npz')
    model['J_regressor'] = sp.csc_matrix(model['J_regressor'])
    return model


def write_pickle(path, arrays):
    with open(path, 'wb') as f:
        pickle.dump(arrays, f, protocol=2)
    return path


def test_pickle_and_npz_give_the_same_vertices(tmp_path, arrays):
    pkl = write_pickle(tmp_path / 'a.pkl', arrays)
    npz = tmp_path / 'b.npz'
    np.savez(npz, **{k: (v.toarray() if hasattr(v, 'toarray') else v)
                     for k, v in arrays.items()})
    torch.manual_seed(0)
    pose, betas = torch.randn(2, 72) * 0.3, torch.randn(2, 10)
    a = SMPL(str(pkl))(betas=betas, pose=pose)
    b = SMPL(str(npz))(betas=betas, pose=pose)
    assert a['vertices'].shape == (2, len(arrays['v_template']), 3)
    assert a['joints'].shape == (2, 24, 3)
    torch.testing.assert_close(a['vertices'], b['vertices'])
    torch.testing.assert_close(a['joints'], b['joints'])


def test_rest_pose_and_pose_keyword(body_model_dir):
    body = MODELS.build(dict(type='SMPL', model_path=str(body_model_dir)))
    rest = body()
    assert rest['vertices'].shape[0] == 1
    torch.testing.assert_close(rest['vertices'][0], body.v_template)
    # the 24 kinematic joints are the file's regressor on the template
    regressed = body.smpl.J_regressor @ body.v_template
    torch.testing.assert_close(rest['joints'][0], regressed)
    assert body.faces.dtype == torch.long and body.faces.shape[1] == 3
    assert (body.num_joints, body.gender) == (24, 'neutral')
    pose = torch.randn(2, 72, generator=torch.Generator().manual_seed(1))
    split = body(global_orient=pose[:, :3], body_pose=pose[:, 3:])
    torch.testing.assert_close(body(pose=pose)['vertices'],
                               split['vertices'])
    transl = torch.tensor([[0., 0., 5.], [1., 0., 0.]])
    moved = body(pose=pose, transl=transl)
    torch.testing.assert_close(moved['joints'] - transl[:, None],
                               split['joints'])


def test_bad_inputs(body_model_dir):
    body = SMPL(str(body_model_dir))
    with pytest.raises(ValueError, match='not both'):
        body(pose=torch.zeros(1, 72), body_pose=torch.zeros(1, 69))
    with pytest.raises(ValueError, match=r'body_pose must be a \(B, 69\)'):
        body(body_pose=torch.zeros(1, 72))
    with pytest.raises(ValueError, match=r'betas must be a \(B, 10\)'):
        body(betas=torch.zeros(2, 16))
    with pytest.raises(ValueError, match='batch size'):
        body(betas=torch.zeros(2, 10), pose=torch.zeros(3, 72))


def test_folder_layouts(tmp_path, body_model_dir, arrays):
    assert SMPL(str(body_model_dir)).model_file.name == 'SMPL_NEUTRAL.npz'
    female = SMPL(str(body_model_dir / 'smpl'), gender='female')
    assert female.gender == 'female'
    assert female.model_file.name == 'SMPL_FEMALE.npz'
    metro = tmp_path / 'metro'
    metro.mkdir()
    write_pickle(metro / 'basicmodel_m_lbs_10_207_0_v1.0.0.pkl', arrays)
    assert SMPL(str(metro), gender='male').num_vertices > 0
    with pytest.raises(FileNotFoundError, match='basicModel_f_lbs'):
        SMPL(str(metro), gender='female')
    # MMHuman3D's root-level name wins over the smpl/ subfolder
    mmh = tmp_path / 'mmh'
    (mmh / 'smpl').mkdir(parents=True)
    np.savez(mmh / 'SMPL_NEUTRAL.npz',
             **{k: (v.toarray() if hasattr(v, 'toarray') else v)
                for k, v in arrays.items()})
    write_pickle(mmh / 'smpl' / 'SMPL_NEUTRAL.pkl', arrays)
    assert find_body_model_file(mmh, 'neutral') == mmh / 'SMPL_NEUTRAL.npz'
    with pytest.raises(FileNotFoundError, match='nowhere'):
        SMPL(str(tmp_path / 'nowhere'))
    with pytest.raises(ValueError, match='gender'):
        SMPL(str(body_model_dir), gender='other')


def test_bad_model_files(tmp_path, arrays, body_model_dir):
    broken = {k: v for k, v in arrays.items() if k != 'shapedirs'}
    path = write_pickle(tmp_path / 'SMPL_NEUTRAL.pkl', broken)
    with pytest.raises(KeyError, match="SMPL_NEUTRAL.pkl has no key "
                       "'shapedirs'"):
        SMPL(str(path))
    wrong = dict(arrays, posedirs=arrays['posedirs'][..., :10])
    path = write_pickle(tmp_path / 'wrong.pkl', wrong)
    with pytest.raises(ValueError, match="wrong.pkl: 'posedirs' has shape"):
        SMPL(str(path))
    wrong = dict(arrays, weights=arrays['weights'][:-1])
    path = write_pickle(tmp_path / 'short.pkl', wrong)
    with pytest.raises(ValueError, match="short.pkl: 'weights'"):
        SMPL(str(path))
    with pytest.raises(ValueError, match='num_betas'):
        SMPL(str(body_model_dir), num_betas=20)


def test_extra_regressors(tmp_path, body_model_dir):
    body = SMPL(str(body_model_dir), joint_regressors=dict(
        h36m=str(body_model_dir / 'J_regressor_h36m.npy'),
        extra=str(body_model_dir / 'J_regressor_extra.npy')))
    out = body(betas=torch.zeros(3, 10))
    assert out['h36m'].shape == (3, 17, 3) and out['extra'].shape == (3, 14, 3)
    matrix = torch.from_numpy(np.load(body_model_dir / 'J_regressor_h36m.npy'))
    torch.testing.assert_close(out['h36m'],
                               torch.einsum('jn,bnc->bjc', matrix.float(),
                                            out['vertices']))
    torch.testing.assert_close(body.regress(out['vertices'], 'h36m'),
                               out['h36m'])
    with pytest.raises(KeyError, match='no joint regressor'):
        body.regress(out['vertices'], 'coco')
    bad = tmp_path / 'J_bad.npy'
    np.save(bad, np.zeros((17, 5)))
    with pytest.raises(ValueError, match='J_bad.npy'):
        SMPL(str(body_model_dir), joint_regressors=dict(h36m=str(bad)))
    with pytest.raises(FileNotFoundError, match='J_missing.npy'):
        SMPL(str(body_model_dir),
             joint_regressors=dict(h36m=str(tmp_path / 'J_missing.npy')))


def test_kinematic_tree_stays_on_the_cpu(body_model_dir):
    """smplx indexes a Python list with each parent: on a CUDA tensor that
    is a host synchronisation per joint, so the tree is no buffer and
    .to() leaves it on the CPU; posing is unchanged."""
    body = SMPL(str(body_model_dir))
    pose = torch.randn(2, 72) * 0.3
    before = body(pose=pose)['vertices']
    assert 'smpl.parents' not in dict(body.named_buffers())
    assert 'smpl.parents' not in body.state_dict()
    body.to(torch.float64)
    assert body.smpl.parents.device.type == 'cpu'
    assert body.smpl.parents.dtype == torch.long
    assert body.smpl.parents[0] == -1
    after = body(pose=pose.double())['vertices']
    torch.testing.assert_close(after.float(), before, atol=1e-5, rtol=0)
