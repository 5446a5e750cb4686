import pytest
import torch
from mmengine.structures import BaseDataElement

from pointhmr_mm.evaluation.metrics import SMPLFitMetric
from pointhmr_mm.registry import METRICS


def _sample(mpve_fit):
    sample = BaseDataElement(metainfo=dict(sample_idx=0))
    sample.pred_smpl_mpve_fit = torch.tensor(mpve_fit)
    return sample


def test_mean_quantile_and_max():
    metric = METRICS.build(dict(type='SMPLFitMetric'))
    errors = [0.001 * i for i in range(1, 21)]  # 1..20 mm
    metric.process(None, [_sample(e) for e in errors[:7]])
    metric.process(None, [_sample(e).to_dict() for e in errors[7:]])
    out = metric.compute_metrics(metric.results)
    assert out['MPVE-fit'] == pytest.approx(10.5)
    assert out['MPVE-fit/max'] == pytest.approx(20.)
    # linear interpolation between the 19th and 20th of 20 values
    assert out['MPVE-fit/p95'] == pytest.approx(19.05)
    assert metric.prefix == 'smpl'


def test_missing_field_and_bad_shape():
    metric = SMPLFitMetric()
    with pytest.raises(KeyError, match='fit_smpl=True'):
        metric.process(None, [BaseDataElement(metainfo=dict(sample_idx=3))])
    bad = BaseDataElement()
    bad.pred_smpl_mpve_fit = torch.zeros(2)
    with pytest.raises(ValueError, match='scalar'):
        metric.process(None, [bad])
    with pytest.raises(ValueError, match='no samples'):
        metric.compute_metrics([])
