"""SMPL parameters out of predictions: estimator field, inference_mesh,
the npz in MMHuman3D's layout and its round trip through the body model."""
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement
from skimage import data

from pointhmr_mm.apis import (inference_mesh, init_model, load_smpl_params,
                              save_smpl_params)
from pointhmr_mm.utils import UnsafePickleError

SMPL_FIELDS = dict(pred_smpl_global_orient=(3, ), pred_smpl_body_pose=(23, 3),
                   pred_smpl_betas=(10, ), pred_smpl_transl=(3, ),
                   pred_smpl_mpve_fit=())
BOXES = [[100, 20, 300, 500], [0, 0, 200, 300], [250, 100, 500, 480]]


@pytest.fixture(scope='module')
def model(tiny_checkpoint):
    return init_model(*map(str, tiny_checkpoint),
                      cfg_options=dict(model=dict(test_cfg=dict(
                          fit_smpl=True))))


@pytest.fixture(scope='module')
def samples(model):
    image = data.astronaut()[..., ::-1].copy()  # RGB -> BGR
    return inference_mesh(model, image, BOXES, batch_size=2)


def test_inference_mesh_returns_smpl_fields(model, samples):
    assert len(samples) == len(BOXES)
    for sample in samples:
        for key, shape in SMPL_FIELDS.items():
            assert key in sample, key
            assert tuple(getattr(sample, key).shape) == shape
            assert torch.isfinite(getattr(sample, key)).all()
    # the fitter is no submodule: checkpoints keep their keys
    assert not any('smpl_fitter' in k for k in model.state_dict())


def test_fields_absent_without_fit_smpl(tiny_checkpoint):
    plain = init_model(*map(str, tiny_checkpoint))
    image = np.zeros((64, 64, 3), np.uint8)
    sample = inference_mesh(plain, image)[0]
    assert not any(k.startswith('pred_smpl_') for k in sample.keys())
    with pytest.raises(KeyError, match='fit_smpl'):
        save_smpl_params('unused.npz', [sample])


def test_npz_reposes_to_predicted_mesh(model, samples, tmp_path):
    path = tmp_path / 'frame0_smpl.npz'
    summary = save_smpl_params(path, samples)
    # the layout of MMHuman3D's HumanData dump
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    assert {'smpl.npy', '__data_len__.npy', '__key_strict__.npy',
            'mpve_fit.npy'} <= names
    loaded = load_smpl_params(path)
    assert loaded['global_orient'].shape == (3, 3)
    assert loaded['body_pose'].shape == (3, 23, 3)
    assert loaded['betas'].shape == (3, 10)
    assert loaded['transl'].shape == (3, 3)
    # re-pose with the project's body model and compare with the
    # predicted meshes placed in the full image's camera frame (transl is
    # a camera translation): the distance is the reported MPVE-fit
    body = model.body_model
    to_tensor = {k: torch.as_tensor(v) for k, v in loaded.items()}
    verts = body(betas=to_tensor['betas'],
                 body_pose=to_tensor['body_pose'].reshape(3, -1),
                 global_orient=to_tensor['global_orient'],
                 transl=to_tensor['transl'])['vertices']
    pred = torch.stack([s.pred_vertices + s.pred_cam_t_full
                        for s in samples])
    assert (torch.as_tensor(loaded['transl'])[:, 2] > 0.).all()
    distance = (verts - pred).norm(dim=-1).mean(-1)
    reported = torch.as_tensor(loaded['mpve_fit'])
    torch.testing.assert_close(distance, reported, atol=1e-5, rtol=1e-3)
    np.testing.assert_allclose(summary['mpve_fit'], loaded['mpve_fit'])
    # JSON-able, person-indexed, same values as the file
    assert isinstance(summary['body_pose'][2][22][1], float)
    np.testing.assert_allclose(summary['transl'], loaded['transl'])


class _Payload:
    """Unpickling this touches ``path`` (stands for running any code)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path), ))


def test_raw_npz_needs_pickle_and_loader_is_safe(samples, tmp_path):
    path = tmp_path / 'out.npz'
    save_smpl_params(path, samples[:1])
    # plain numpy refuses the object member; MMHuman3D reads it with
    # allow_pickle=True, which the project never does
    with pytest.raises(ValueError):
        np.load(path)['smpl']
    # a file whose smpl member runs code is refused by load_smpl_params
    evil = tmp_path / 'evil.npz'
    marker = tmp_path / 'payload_ran'
    np.savez(evil, smpl=np.array(_Payload(marker), dtype=object))
    with pytest.raises(UnsafePickleError):
        load_smpl_params(evil)
    assert not marker.exists()


def test_bad_inputs(samples, tmp_path):
    with pytest.raises(ValueError, match='.npz'):
        save_smpl_params(tmp_path / 'out.json', samples)
    broken = BaseDataElement()
    broken.set_data({k: torch.zeros(s) for k, s in SMPL_FIELDS.items()})
    broken.pred_smpl_body_pose = torch.zeros(24, 3)
    with pytest.raises(ValueError, match='pred_smpl_body_pose'):
        save_smpl_params(tmp_path / 'out.npz', [broken])
    assert not (tmp_path / 'out.npz').exists()
    np.savez(tmp_path / 'other.npz', verts=np.zeros(3))
    with pytest.raises(KeyError, match='smpl'):
        load_smpl_params(tmp_path / 'other.npz')


def test_empty_frame(tmp_path):
    summary = save_smpl_params(tmp_path / 'empty.npz', [])
    assert summary['betas'] == []
    assert load_smpl_params(tmp_path / 'empty.npz')['body_pose'].shape == (
        0, 23, 3)


def test_dict_samples_and_atomic_replace(samples, tmp_path):
    path = tmp_path / 'out.npz'
    save_smpl_params(path, samples)
    as_dicts = [dict(s.items()) for s in samples[:1]]
    save_smpl_params(path, as_dicts)
    assert load_smpl_params(path)['betas'].shape == (1, 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out.npz']


def test_fit_metric_on_predictions(samples):
    from pointhmr_mm.evaluation.metrics import SMPLFitMetric
    metric = SMPLFitMetric()
    metric.process(None, samples)
    out = metric.compute_metrics(metric.results)
    expected = torch.stack([s.pred_smpl_mpve_fit for s in samples]).mean()
    assert out['MPVE-fit'] == pytest.approx(expected.item() * 1000, rel=1e-5)
