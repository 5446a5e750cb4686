"""Image loading for mesh datasets."""
from pathlib import Path

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from pointhmr_mm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadMeshImage(BaseTransform):
    """Load ``img`` (BGR uint8) from ``img_bytes`` or ``img_path``.

    Unreadable inputs raise an error that names the file and the sample.
    Keys set: ``img``, ``ori_shape``, ``img_shape``.
    """

    def transform(self, results: dict) -> dict:
        if results.get('img') is not None:
            img = results['img']
        else:
            where = (f'{results.get("img_path")} (sample '
                     f'{results.get("sample_idx")})')
            data = results.get('img_bytes')
            if data is None:
                path = results.get('img_path')
                if path is None or not Path(path).is_file():
                    raise FileNotFoundError(f'image not found: {where}')
                data = Path(path).read_bytes()
            img = mmcv.imfrombytes(data, flag='color', channel_order='bgr')
            if img is None:
                raise ValueError(f'image cannot be decoded (corrupt?): '
                                 f'{where}')
        results['img'] = np.ascontiguousarray(img)
        results['ori_shape'] = img.shape[:2]
        results['img_shape'] = img.shape[:2]
        results.pop('img_bytes', None)
        return results
