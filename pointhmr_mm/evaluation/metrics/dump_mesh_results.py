"""Write each test sample's predictions to a file: mmengine's
``DumpResults`` with compact per-sample tensors, and ``.json`` too."""
import json
import os
import os.path as osp
from typing import Any, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.fileio import dump
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from pointhmr_mm.registry import METRICS

PICKLE_SUFFIXES = ('.pkl', '.pickle')
JSON_SUFFIXES = ('.json', )
# Ground truth that only means something where a sample has an SMPL label.
SMPL_GT_KEYS = ('gt_pose', 'gt_betas', 'gt_vertices', 'gt_keypoints_3d_h36m')
# Keypoint GT whose last column is the confidence (0 = unlabelled).
KEYPOINT_GT_KEYS = ('gt_keypoints_2d', 'gt_keypoints_3d')


def compact(value: Any, to_numpy: bool = False) -> Any:
    """Detached CPU copies of every tensor in ``value``.

    A data sample's tensors are views of their batch's tensors (the model
    slices the batch per sample), and pickling a view writes the whole
    storage, so a dump of views holds every sample once per sample of its
    batch. ``clone()`` gives each sample its own storage.

    Args:
        value: Tensor, array, data sample, or list/tuple/dict of them.
        to_numpy: Tensors become numpy arrays.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().clone()
        return value.numpy() if to_numpy else value
    if isinstance(value, BaseDataElement):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: compact(v, to_numpy) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(compact(v, to_numpy) for v in value)
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def _all_zero(value) -> bool:
    return value is None or not np.any(np.asarray(value))


def drop_empty_gt(record: dict) -> dict:
    """``record`` without ground truth it does not have.

    Data samples always carry the GT fields (zeros where a sample has no
    label, see ``PackMeshInputs``); a prediction file should not suggest
    labels that are not there. Dropped: the SMPL GT (``gt_pose``,
    ``gt_betas``, ``gt_vertices``, ``gt_keypoints_3d_h36m``) and
    ``has_smpl`` where ``has_smpl`` is 0, keypoint GT whose confidences are
    all 0, and any other all-zero ``gt_*`` field.

    Args:
        record: One sample as a dict (tensors or arrays).

    Returns:
        dict: A new dict; ``record`` is not changed.
    """
    out = dict(record)
    if _all_zero(out.get('has_smpl')):
        for key in SMPL_GT_KEYS + ('has_smpl', ):
            out.pop(key, None)
    for key in KEYPOINT_GT_KEYS:
        if key in out and _all_zero(np.asarray(out[key])[..., -1]):
            del out[key]
    for key in [k for k in out if k.startswith('gt_')]:
        if _all_zero(out[key]):
            del out[key]
    return out


def to_json_compatible(value: Any) -> Any:
    """Arrays and tensors as (nested) lists, numpy scalars as numbers."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): to_json_compatible(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_compatible(v) for v in value]
    return value


@METRICS.register_module()
class DumpMeshResults(BaseMetric):
    """Dump every sample's output to a ``.pkl`` or ``.json`` file.

    With the defaults the pickle is what mmengine's ``DumpResults`` writes
    (a list with one dict per sample: the data sample's metainfo and
    fields, tensors on the CPU; what
    ``mmengine.evaluator.Evaluator.offline_evaluate`` takes as
    ``data_samples``), except that each sample's tensors are its own
    (see :func:`compact`): 100 quick-start samples take a few MB, not the
    1.3 GB that their batch views took.

    Args:
        out_file_path: ``.pkl``/``.pickle`` or ``.json`` file.
        exclude_keys: Fields left out (e.g. ``('pred_heatmaps', )``).
        drop_empty_gt: Leave out GT the sample does not have
            (:func:`drop_empty_gt`).
        to_numpy: Pickles hold numpy arrays instead of tensors (``.json``
            always holds lists).
        collect_device, collect_dir: As ``BaseMetric``.
    """

    def __init__(self,
                 out_file_path: str,
                 exclude_keys: Sequence[str] = (),
                 drop_empty_gt: bool = False,
                 to_numpy: bool = False,
                 collect_device: str = 'cpu',
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device,
                         collect_dir=collect_dir)
        if not str(out_file_path).endswith(PICKLE_SUFFIXES + JSON_SUFFIXES):
            raise ValueError(f'DumpMeshResults: {out_file_path} must end '
                             f'with one of {PICKLE_SUFFIXES + JSON_SUFFIXES}')
        if isinstance(exclude_keys, str):
            raise TypeError('DumpMeshResults: exclude_keys must be a '
                            f'sequence of keys, got the string '
                            f'{exclude_keys!r}')
        self.out_file_path = str(out_file_path)
        self.exclude_keys = tuple(exclude_keys)
        self.drop_empty_gt, self.to_numpy = drop_empty_gt, to_numpy

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            record = {k: v for k, v in sample.items()
                      if k not in self.exclude_keys}
            record = compact(record, self.to_numpy)
            if self.drop_empty_gt:
                record = drop_empty_gt(record)
            self.results.append(record)

    def compute_metrics(self, results: list) -> dict:
        os.makedirs(osp.dirname(osp.abspath(self.out_file_path)),
                    exist_ok=True)
        if self.out_file_path.endswith(JSON_SUFFIXES):
            with open(self.out_file_path, 'w') as f:
                json.dump(to_json_compatible(results), f)
        else:
            dump(results, self.out_file_path)
        print_log(f'{len(results)} samples written to {self.out_file_path}',
                  logger='current')
        return {}
