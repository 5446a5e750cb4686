"""A tiny model, dataset and metric to exercise the training machinery."""
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from pointhmr_mm.registry import DATASETS, METRICS, MODELS


@MODELS.register_module(force=True)
class ToyModel(BaseModel):
    """Linear regression with dropout, so the RNG stream matters."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)
        self.dropout = torch.nn.Dropout(0.5)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.linear(self.dropout(inputs[:, :4]))
        if mode == 'loss':
            return dict(loss=((out[:, 0] - inputs[:, 4])**2).mean())
        if mode == 'predict':
            return [dict(pred=o, gt=i[4]) for o, i in zip(out[:, 0], inputs)]
        return out


@DATASETS.register_module(force=True)
class ToyDataset(Dataset):
    metainfo = dict(name='toy')

    def __init__(self, size=16):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(size, 4, generator=g)
        y = x @ torch.tensor([1., -2., 0.5, 3.]) + 1.
        self.data = torch.cat([x, y[:, None]], 1)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        return dict(inputs=self.data[idx], data_samples=idx)


@METRICS.register_module(force=True)
class ToyMetric(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results += [float((s['pred'] - s['gt'])**2)
                         for s in data_samples]

    def compute_metrics(self, results):
        return dict(mse=sum(results) / len(results))
