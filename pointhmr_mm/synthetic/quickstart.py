"""The quick start's generated assets: the embedded Anny body (a vertex
subset with its mesh hierarchy) and the synthetic splits rendered from
it, each made only if absent."""
from pathlib import Path
from typing import Sequence, Union

from pointhmr_mm.models.body_models.smpl import (find_body_model_file,
                                                  load_body_model_arrays)
from .body import BODY_PARTS_FILE
from .writer import ensure_synthetic_dataset

PathLike = Union[str, Path]


def _check_kept_body(body_dir: Path, num_vertices: int) -> None:
    """Refuse a kept body folder that is not the one asked for (e.g. the
    mannequin of older versions, which has no part labels), before
    anything is rendered from it."""
    what = None
    if not (body_dir / BODY_PARTS_FILE).is_file():
        what = f'no {BODY_PARTS_FILE} (an older generated body)'
    else:
        found = len(load_body_model_arrays(find_body_model_file(
            body_dir, 'neutral'))['v_template'])
        if found != num_vertices:
            what = f'a {found}-vertex body'
    if what:
        raise FileExistsError(
            f'{body_dir} holds {what}, the config asks for the '
            f'{num_vertices}-vertex embedded Anny body: delete '
            f'{body_dir.parent} to regenerate the quick-start assets')


def ensure_quickstart_assets(root: PathLike, num_vertices: int,
                             mesh_levels: Sequence[int], num_train: int,
                             num_val: int, image_size: int = 256,
                             seed: int = 0, num_workers: int = 1,
                             **scene) -> None:
    """Make what the quick start reads under ``root``, each part only if
    absent: ``body_models/`` (the embedded Anny body cut to
    ``num_vertices`` vertices, with a ``mesh_levels`` hierarchy) and the
    ``synthetic/`` train and val splits, rendered by ``num_workers``
    processes. ``scene``:
    :class:`~pointhmr_mm.synthetic.SyntheticRenderer`'s scene settings.

    Raises:
        FileExistsError: ``root/body_models`` holds another body.
    """
    from pointhmr_mm.models.body_models.embedded import write_embedded_body
    root = Path(root)
    body_dir = root / 'body_models'
    if body_dir.exists():
        _check_kept_body(body_dir, num_vertices)
    else:
        write_embedded_body(body_dir, num_vertices=num_vertices,
                            levels=tuple(mesh_levels))
    ensure_synthetic_dataset(root / 'synthetic', body_dir, num_train,
                             num_val, seed, image_size, num_workers,
                             **scene)


def prepare_config_assets(cfg) -> None:
    """Make the assets named by ``cfg.quickstart_assets`` if absent: the
    embedded Anny body (a vertex subset), its mesh hierarchy and the
    synthetic splits (:func:`ensure_quickstart_assets` takes the dict's
    keys). A config without that key needs nothing."""
    spec = cfg.get('quickstart_assets')
    if spec:
        ensure_quickstart_assets(**spec)
