"""The focal length (pixels) that places people in a full image: the
user's value, else the photo's EXIF, else the diagonal rule.

A weak-perspective crop camera fixes a person's size in the image, not the
distance: the full-image translation (``cam_crop_to_full``) needs the focal
length, and its depth scales with it.
"""
import logging
from pathlib import Path
from typing import Optional, Tuple, Union

from mmengine.logging import print_log

from pointhmr_mm.utils.geometry import diagonal_focal

# The diagonal of a 36 x 24 mm frame: CIPA DC-004 defines the 35 mm
# equivalent focal length by the diagonal angle of view.
FILM_35MM_DIAGONAL_MM = (36.**2 + 24.**2)**0.5
EXIF_IFD = 0x8769  # the Exif sub-IFD of the main image's tags
FOCAL_35MM_TAG = 0xA405  # FocalLengthIn35mmFilm, integer millimetres

FocalSource = Tuple[float, str]


def focal_from_exif(path: Union[str, Path], height: int,
                    width: int) -> Optional[float]:
    """Focal length in pixels from the photo's ``FocalLengthIn35mmFilm``
    EXIF tag, or None when the file has none (or is no photo Pillow reads).

    ``f_px = f_35mm / 43.27 mm * sqrt(w^2 + h^2)``: the equivalent focal
    length gives the diagonal field of view. The plain ``FocalLength`` tag
    is not used: it needs the sensor size, which EXIF rarely records.

    Args:
        path: The image file.
        height: Decoded image height (pixels).
        width: Decoded image width (pixels).
    """
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as image:
            exif = image.getexif()
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    focal_35mm = exif.get_ifd(EXIF_IFD).get(FOCAL_35MM_TAG) or \
        exif.get(FOCAL_35MM_TAG)
    try:
        focal_35mm = float(focal_35mm)
    except (TypeError, ValueError):
        return None
    if not focal_35mm > 0:
        return None
    return focal_35mm / FILM_35MM_DIAGONAL_MM * diagonal_focal(height, width)


def resolve_focal(height: int, width: int,
                  focal_length: Optional[float] = None,
                  path: Optional[Union[str, Path]] = None) -> FocalSource:
    """The focal length (pixels) for an image and where it came from.

    Args:
        height: Image height (pixels).
        width: Image width (pixels).
        focal_length: The user's value in pixels; wins when given.
        path: The image file, for its EXIF (None: an array or a video
            frame).

    Returns:
        tuple: (focal in pixels, ``'user'`` | ``'exif'`` | ``'diagonal'``).

    Raises:
        ValueError: ``focal_length`` is not positive.
    """
    if focal_length is not None:
        if not float(focal_length) > 0:
            raise ValueError(f'focal_length must be positive (pixels), got '
                             f'{focal_length}')
        return float(focal_length), 'user'
    if path is not None:
        focal = focal_from_exif(path, height, width)
        if focal is not None:
            return focal, 'exif'
    return diagonal_focal(height, width), 'diagonal'


def log_focal(name: str, focal: float, source: str) -> None:
    """One line saying which focal length placed an image's people."""
    how = dict(user='given', exif='from EXIF FocalLengthIn35mmFilm',
               diagonal='image diagonal; pass focal_length= when known')
    print_log(f'{name}: focal length {focal:.1f} px ({how[source]})',
              logger='current', level=logging.DEBUG)
