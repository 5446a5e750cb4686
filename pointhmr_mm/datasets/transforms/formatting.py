"""Pack a transformed sample into ``inputs`` and a data sample."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from pointhmr_mm.registry import TRANSFORMS
from pointhmr_mm.utils.constants import NUM_BETAS
from .loading import check_image, describe_sample, get_array
from .mesh_transforms import NUM_JOINTS, NUM_POSE

META_KEYS = ('img_path', 'ori_shape', 'img_shape', 'bbox_center',
             'bbox_size', 'rotation', 'flip', 'crop_matrix', 'gender',
             'dataset_name', 'eval_protocol', 'sample_idx')
# Metainfo a plain image (no augmentation step) still gets, so that every
# data sample carries the keys of docs/conventions.md.
META_DEFAULTS = dict(rotation=0., flip=False)
# Label key in the sample -> (data-sample field, shape).
LABEL_FIELDS = dict(keypoints_2d=('gt_keypoints_2d', (NUM_JOINTS, 3)),
                    keypoints_3d=('gt_keypoints_3d', (NUM_JOINTS, 4)),
                    smpl_pose=('gt_pose', (NUM_POSE, )),
                    smpl_betas=('gt_betas', (NUM_BETAS, )))


@TRANSFORMS.register_module()
class PackMeshInputs(BaseTransform):
    """Pack a sample as ``dict(inputs, data_samples)``.

    ``inputs``: uint8 tensor (3, H, W), BGR (HWC -> CHW); float32 [0, 255]
    after ``MeshPixelNoise``. ``data_samples``:
    a ``BaseDataElement`` with float32 tensors ``gt_keypoints_2d`` (14, 3)
    normalised xy + confidence, ``gt_keypoints_3d`` (14, 4) metres +
    confidence, ``gt_pose`` (72,), ``gt_betas`` (10,) and ``has_smpl`` ()
    0/1, and the metainfo keys of ``docs/conventions.md``. Labels the
    sample lacks become zeros, so their confidences and ``has_smpl`` are 0:
    a plain image with a box packs for inference.

    Args:
        meta_keys: Keys copied into the metainfo when present.
        with_labels: Pack the label fields; inference on plain images
            (``pointhmr_mm.apis``) passes False, so its samples carry no
            GT fields at all.
    """

    def __init__(self, meta_keys: Sequence[str] = META_KEYS,
                 with_labels: bool = True):
        if isinstance(meta_keys, str):
            raise TypeError(f'meta_keys must be a sequence of keys, got the '
                            f'string {meta_keys!r}')
        self.meta_keys = tuple(meta_keys)
        self.with_labels = with_labels

    def _labels(self, results: dict) -> dict:
        fields = {}
        for key, (field, shape) in LABEL_FIELDS.items():
            if results.get(key) is None:
                fields[field] = torch.zeros(shape)
            else:
                fields[field] = torch.from_numpy(
                    get_array(results, key, shape, 'PackMeshInputs'))
        has_smpl = float(results.get('has_smpl', 0.))
        if has_smpl not in (0., 1.):
            raise ValueError(f'PackMeshInputs: has_smpl must be 0 or 1, got '
                             f'{has_smpl} ({describe_sample(results)})')
        if has_smpl and results.get('smpl_pose') is None:
            raise KeyError('PackMeshInputs: has_smpl is 1 but "smpl_pose" '
                           f'is missing ({describe_sample(results)})')
        fields['has_smpl'] = torch.tensor(has_smpl)
        return fields

    def transform(self, results: dict) -> dict:
        if 'img' not in results:
            raise KeyError('PackMeshInputs needs "img" '
                           f'({describe_sample(results)})')
        img = results['img']
        # float32 crops come from MeshPixelNoise (kept unrounded, [0, 255])
        if not (isinstance(img, np.ndarray) and img.dtype == np.float32
                and img.ndim == 3 and img.shape[2] == 3):
            check_image(img, 'PackMeshInputs', results)
        # (H, W, 3) -> (3, H, W)
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0,
                                                                     1)))
        metainfo = {k: v for k, v in META_DEFAULTS.items()
                    if k in self.meta_keys}
        metainfo.update(
            {k: results[k]
             for k in self.meta_keys if k in results})
        sample = BaseDataElement(metainfo=metainfo)
        if self.with_labels:
            sample.set_data(self._labels(results))
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(meta_keys={self.meta_keys}, '
                f'with_labels={self.with_labels})')
