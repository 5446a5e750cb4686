"""The one image decoder: encoded bytes (or a file) to a BGR uint8 array,
refusing truncated files.

Why a check of its own: libjpeg fills the missing rows of a truncated
baseline JPEG with grey and only prints "Premature end of JPEG file";
OpenCV's ``imread`` and, for some truncations, ``imdecode`` then hand back
a full-size image. A JPEG ends with its EOI marker and a PNG with its IEND
chunk, so a file without its ending is refused before decoding. The
inferencer, ``inference_mesh`` and the datasets' ``LoadMeshImage`` all read
through :func:`decode_image`.
"""
from pathlib import Path
from typing import Union

import cv2
import numpy as np

JPEG_MAGIC = b'\xff\xd8'
JPEG_END = b'\xff\xd9'
# Cameras and editors may append padding or a trailer after EOI; the
# marker must lie within this many final bytes.
JPEG_TAIL = 4096
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
PNG_END = b'IEND\xaeB`\x82'


def truncation_reason(data: bytes) -> str:
    """Why ``data`` looks cut short ('' when it does not): a JPEG without
    its end-of-image marker or a PNG without its IEND chunk. Other formats
    are left to the decoder."""
    if data.startswith(JPEG_MAGIC) and JPEG_END not in data[-JPEG_TAIL:]:
        return 'truncated JPEG (no end-of-image marker)'
    if data.startswith(PNG_MAGIC) and not data.rstrip(b'\0').endswith(
            PNG_END):
        return 'truncated PNG (no IEND chunk)'
    return ''


def decode_image(data: bytes, name: str = '<bytes>') -> np.ndarray:
    """Decode encoded image bytes to an (H, W, 3) BGR uint8 array.

    Args:
        data: The file's bytes (JPEG, PNG, BMP, WebP, TIFF, ...).
        name: What error messages call the image (its path).

    Raises:
        ValueError: Empty, truncated, or not an image, naming ``name``.
    """
    if not data:
        raise ValueError(f'{name}: empty file, not an image')
    reason = truncation_reason(data)
    if reason:
        raise ValueError(f'{name}: cannot decode the image: {reason}')
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as err:
        raise ValueError(f'{name}: cannot decode the image ({err})') from err
    if img is None:
        raise ValueError(f'{name}: cannot decode the image (corrupt or not '
                         'an image)')
    return img


def read_image(path: Union[str, Path]) -> np.ndarray:
    """:func:`decode_image` of a local file.

    Raises:
        FileNotFoundError: No such file.
        ValueError: See :func:`decode_image`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no such image file')
    return decode_image(path.read_bytes(), str(path))
