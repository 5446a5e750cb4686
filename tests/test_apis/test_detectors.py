"""Person detectors: torchvision's from a weights file (random here), the
opt-in download with its offline error, mmdet guarded, thresholds and
NMS."""
import builtins

import numpy as np
import pytest
import torch

from pointhmr_mm.apis import (MMDetPersonDetector, TorchvisionPersonDetector,
                              build_detector)
from pointhmr_mm.apis.detectors import TORCHVISION_PERSON, _people

SMALL = dict(min_size=64, max_size=96)  # keeps the random detector quick
MODEL = 'fasterrcnn_mobilenet_v3_large_fpn'


def test_people_keeps_persons_above_the_score_after_nms():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60],
                      [0, 0, 10, 10], [30, 30, 40, 40]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.95, 0.2])
    labels = np.array([1, 1, 1, 3, 1])
    found = _people(boxes, scores, labels, TORCHVISION_PERSON, 0.5, 0.3)
    # the car (label 3) and the low score go; the overlapping box is NMS'd
    np.testing.assert_allclose(found, [[0, 0, 10, 10, 0.9],
                                       [50, 50, 60, 60, 0.7]])
    loose = _people(boxes, scores, labels, TORCHVISION_PERSON, 0.5, 0.9)
    assert len(loose) == 3
    assert _people(boxes[:0], scores[:0], labels[:0], 1, 0.5, 0.3).shape \
        == (0, 5)


def test_weights_file_round_trip_and_call(tmp_path):
    torch.manual_seed(0)
    source = TorchvisionPersonDetector(MODEL, random_weights=True, **SMALL)
    path = tmp_path / 'det.pth'
    torch.save(source.model.state_dict(), path)
    loaded = TorchvisionPersonDetector(MODEL, weights=path, score_thr=0.,
                                       **SMALL)
    for a, b in zip(source.model.state_dict().values(),
                    loaded.model.state_dict().values()):
        torch.testing.assert_close(a, b)
    image = np.random.default_rng(0).integers(0, 255, (60, 80, 3), np.uint8)
    found = loaded(image)
    assert found.ndim == 2 and found.shape[1] == 5
    assert (found[:, 4] >= 0).all()


def test_detector_errors_name_the_option(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match='--det-weights PATH'):
        TorchvisionPersonDetector(MODEL)
    with pytest.raises(ValueError, match='det model must be one of'):
        TorchvisionPersonDetector('yolo', random_weights=True)
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        TorchvisionPersonDetector(MODEL, weights=tmp_path / 'nope.pth')
    with pytest.raises(ValueError, match='score_thr'):
        TorchvisionPersonDetector(MODEL, random_weights=True, score_thr=2)
    other = tmp_path / 'other.pth'
    torch.save({'backbone.weight': torch.zeros(1)}, other)
    with pytest.raises(RuntimeError, match='other.pth does not fit'):
        TorchvisionPersonDetector(MODEL, weights=other, **SMALL)
    # offline: the opt-in download fails with what to do instead
    from torchvision.models import detection

    def offline(**kwargs):
        raise OSError('<urlopen error [Errno -3] name resolution failed>')

    monkeypatch.setattr(detection, MODEL, offline)
    with pytest.raises(RuntimeError, match='offline.*--det-weights'):
        TorchvisionPersonDetector(MODEL, download=True)


def test_build_detector_routes_the_options(tmp_path, monkeypatch):
    assert build_detector() is None
    with pytest.raises(ValueError, match='go together'):
        build_detector(det_config='x.py')
    with pytest.raises(ValueError, match='needs --det-weights'):
        build_detector(det_model=MODEL)
    real_import = builtins.__import__

    def no_mmdet(name, *args, **kwargs):
        if name.startswith('mmdet'):
            raise ImportError('No module named mmdet')
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', no_mmdet)
    with pytest.raises(ImportError, match='need mmdet.*--det-weights'):
        build_detector(det_config='det.py', det_checkpoint='det.pth')
    with pytest.raises(ImportError, match='pip install mmdet'):
        MMDetPersonDetector('det.py', 'det.pth')
