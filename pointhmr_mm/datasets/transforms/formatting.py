"""Pack a transformed sample into ``inputs`` and a data sample."""
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from pointhmr_mm.registry import TRANSFORMS

NUM_JOINTS = 14
META_KEYS = ('img_path', 'ori_shape', 'img_shape', 'bbox_center',
             'bbox_size', 'rotation', 'flip', 'crop_matrix', 'gender',
             'dataset_name', 'eval_protocol', 'sample_idx')


@TRANSFORMS.register_module()
class PackMeshInputs(BaseTransform):
    """``inputs``: uint8 (3, H, W) BGR; ``data_samples``: a
    ``BaseDataElement`` with the fields of ``docs/conventions.md``. Labels
    a sample lacks become zeros with zero confidence / ``has_smpl``."""

    def __init__(self, meta_keys=META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results['img']
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0,
                                                                     1)))

        def field(key, shape):
            value = results.get(key)
            if value is None:
                return torch.zeros(shape)
            return torch.as_tensor(np.asarray(value, dtype=np.float32))

        sample = BaseDataElement(metainfo={
            k: results[k] for k in self.meta_keys if k in results})
        sample.set_data(dict(
            gt_keypoints_2d=field('keypoints_2d', (NUM_JOINTS, 3)),
            gt_keypoints_3d=field('keypoints_3d', (NUM_JOINTS, 4)),
            gt_pose=field('smpl_pose', (72, )),
            gt_betas=field('smpl_betas', (10, )),
            has_smpl=torch.tensor(float(results.get('has_smpl', 0.)))))
        return dict(inputs=inputs, data_samples=sample)
