"""Image loading for mesh datasets, and the sample checks every transform
shares."""
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio

from pointhmr_mm.registry import TRANSFORMS
from pointhmr_mm.utils.image_io import decode_image

NUM_CHANNELS = 3


def describe_sample(results: dict) -> str:
    """``'sample <idx> (<img_path>)'``: how error messages name a sample."""
    return (f'sample {results.get("sample_idx")} '
            f'({results.get("img_path", "<no img_path>")})')


def get_array(results: dict, key: str, shape: Sequence[Optional[int]],
              owner: str) -> np.ndarray:
    """Return ``results[key]`` as a new float32 array of ``shape``.

    A copy, so that a transform never writes into the dataset's arrays.

    Args:
        results: The sample.
        key: Key to read.
        shape: Expected shape; None matches any size.
        owner: The transform asking, for the error message.

    Raises:
        ValueError: The value has another shape or is not finite.
    """
    value = np.array(results[key], dtype=np.float32)
    if value.ndim != len(shape) or any(
            s is not None and s != v for s, v in zip(shape, value.shape)):
        pretty = tuple('*' if s is None else s for s in shape)
        raise ValueError(f'{owner}: "{key}" of {describe_sample(results)} '
                         f'has shape {value.shape}, expected {pretty}')
    if not np.isfinite(value).all():
        raise ValueError(f'{owner}: "{key}" of {describe_sample(results)} '
                         'has NaN or inf')
    return value


def check_image(img, owner: str, results: dict) -> None:
    """Raise unless ``img`` is an (H, W, 3) uint8 array."""
    if not (isinstance(img, np.ndarray) and img.ndim == 3
            and img.shape[2] == NUM_CHANNELS and img.dtype == np.uint8):
        got = (f'{img.dtype} {img.shape}' if isinstance(img, np.ndarray) else
               type(img).__name__)
        raise ValueError(f'{owner}: "img" of {describe_sample(results)} must '
                         f'be an (H, W, 3) uint8 BGR array, got {got}')


@TRANSFORMS.register_module()
class LoadMeshImage(BaseTransform):
    """Load ``img`` (H, W, 3) BGR uint8 from ``img_bytes`` or ``img_path``.

    ``img_bytes`` (encoded JPEG/PNG, as TSV datasets hand over) wins over
    ``img_path`` and is dropped once decoded, so that the decoded sample
    does not carry both. A sample that already holds an ``img`` array
    (inference on arrays) is only checked. Keys set: ``img``,
    ``ori_shape`` and ``img_shape`` (both (h, w)).

    Args:
        backend_args: mmengine file backend arguments for ``img_path``
            (None: local files).

    Raises:
        FileNotFoundError: ``img_path`` does not exist.
        ValueError: The bytes do not decode (corrupt or not an image).
    """

    def __init__(self, backend_args: Optional[dict] = None):
        self.backend_args = backend_args

    def _read_bytes(self, results: dict) -> bytes:
        if results.get('img_bytes') is not None:
            return results['img_bytes']
        path = results.get('img_path')
        if path is None:
            raise KeyError('LoadMeshImage: the sample has neither "img", '
                           '"img_bytes" nor "img_path": '
                           f'{describe_sample(results)}')
        try:
            return fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f'LoadMeshImage: image not found for '
                f'{describe_sample(results)}') from error

    def transform(self, results: dict) -> dict:
        img = results.get('img')
        if img is None:
            data = self._read_bytes(results)
            # the project's one decoder: it also refuses truncated files
            img = decode_image(data, f'LoadMeshImage: the image of '
                               f'{describe_sample(results)}')
        check_image(img, 'LoadMeshImage', results)
        results['img'] = img
        results['ori_shape'] = img.shape[:2]
        results['img_shape'] = img.shape[:2]
        results.pop('img_bytes', None)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(backend_args={self.backend_args})'
