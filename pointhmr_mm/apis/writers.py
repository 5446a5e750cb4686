"""What inference writes: pictures, per-image JSON, meshes and SMPL
parameter files; and the check that output folders take files before any
work is done.

Shape shorthand: P people, N vertices, F faces.
"""
import json
from pathlib import Path
from typing import List, Mapping, Sequence, Union

import cv2
import numpy as np

from pointhmr_mm.engine.config_check import \
    check_writable as engine_check_writable
from pointhmr_mm.utils.atomic_io import write_file_atomically
from .exporters import export_glb, export_obj

PathLike = Union[str, Path]
MESH_FORMATS = ('obj', 'glb')


def check_writable(folder: PathLike, what: str = 'output folder',
                   create: bool = True) -> Path:
    """Prove that files can be written in ``folder`` (the engine's probe
    with a temporary file in its nearest existing parent), then create it
    unless ``create`` is False, so that a run fails before its work, not
    after it.

    Raises:
        PermissionError: The folder cannot be created or written, naming
            it and ``what`` it is for.
    """
    try:
        engine_check_writable(str(folder), what, is_dir=True)
        if create:
            Path(folder).mkdir(parents=True, exist_ok=True)
    except (ValueError, OSError) as err:  # ConfigError is a ValueError
        raise PermissionError(str(err)) from err
    return Path(folder)


def write_image(path: PathLike, image_bgr: np.ndarray) -> Path:
    """Write a BGR picture (format from the suffix), creating folders.

    Raises:
        OSError: OpenCV could not encode or write it, naming the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(path.suffix, image_bgr)
    if not ok:
        raise OSError(f'{path}: OpenCV could not encode the picture')
    write_file_atomically(path, lambda f: f.write(data.tobytes()))
    return path


def jsonable(record: Mapping) -> dict:
    """A person record with arrays as nested lists."""
    return {k: np.asarray(v).tolist() if isinstance(v, (np.ndarray, list,
                                                        tuple)) or
            hasattr(v, 'shape') else v for k, v in record.items()}


def write_json(path: PathLike, payload: Mapping) -> Path:
    """Write a JSON file atomically (arrays as lists)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload)
    write_file_atomically(path, lambda f: f.write(text.encode()))
    return path


def write_image_predictions(folder: PathLike, name: str, source: str,
                            people: List[dict], focal: float,
                            image_hw: Sequence[int]) -> Path:
    """``<folder>/<name>.json``: the image, its focal length and size, and
    every person record (``docs/inference.md`` lists the fields)."""
    return write_json(Path(folder) / f'{name}.json', dict(
        image=source, image_hw=list(image_hw), focal_length=float(focal),
        people=[jsonable(p) for p in people]))


def write_meshes(folder: PathLike, name: str, people: List[dict],
                 faces: np.ndarray, colors: np.ndarray,
                 formats: Sequence[str] = ('obj', )) -> List[Path]:
    """``<name>_person<k>.<fmt>`` per person, from the camera-frame
    vertices (``vertices_cam``: people keep their places relative to each
    other). ``.glb`` files carry the overlay colour and are turned y up.

    Args:
        folder: Output folder.
        name: Output stem of the image.
        people: Person records.
        faces: (F, 3) faces.
        colors: (P, 3) RGB in [0, 1], the overlay colours.
        formats: Any of :data:`MESH_FORMATS`.
    """
    unknown = set(formats) - set(MESH_FORMATS)
    if unknown:
        raise ValueError(f'mesh formats must be among {MESH_FORMATS}, got '
                         f'{sorted(unknown)}')
    written = []
    for k, person in enumerate(people):
        stem = Path(folder) / f'{name}_person{k}'
        if 'obj' in formats:
            written.append(export_obj(stem.with_suffix('.obj'),
                                      person['vertices_cam'], faces))
        if 'glb' in formats:
            written.append(export_glb(stem.with_suffix('.glb'),
                                      person['vertices_cam'], faces,
                                      color=colors[k]))
    return written


def write_smpl(path: PathLike, people: List[dict]) -> Path:
    """The people's fitted SMPL parameters in MMHuman3D's HumanData layout
    (:func:`~.smpl_export.save_smpl_params`); ``transl`` is the record's
    camera-frame translation."""
    from .smpl_export import save_smpl_params
    save_smpl_params(path, [{f'pred_{k}': v for k, v in p.items()
                             if k.startswith('smpl_')} for p in people])
    return Path(path)
