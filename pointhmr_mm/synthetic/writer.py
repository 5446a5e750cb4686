"""Writing synthetic splits: JPEGs plus one HumanData ``.npz`` per split,
with the generator's settings recorded in ``meta['generator']``."""
import logging
import multiprocessing
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Dict, List, Optional, Union

import cv2
import numpy as np
import torch
from mmengine.logging import print_log
from tqdm import tqdm

from pointhmr_mm.datasets.conventions import (HUMAN_DATA_NUM_KEYPOINTS,
                                              lsp14_human_data_slots)
from pointhmr_mm.utils.atomic_io import write_file_atomically
from pointhmr_mm.utils.safe_pickle import load_npz
from .render import SyntheticRenderer
from .scene import scene_settings

PathLike = Union[str, Path]
JPEG_QUALITY = 92
SPLIT_SEED_OFFSET = dict(train=0, val=1)
IMAGE_NAME_GLOB = '[0-9][0-9][0-9][0-9][0-9][0-9].jpg'  # the writer's own
# Recorded with the settings: 2 is the dressed Anny bodies (1, unrecorded,
# the mannequin with a left/right tint), so a kept older split is noticed.
GENERATOR_VERSION = 2
CHUNK_SIZE = 50  # samples per job handed to a worker process


def generator_settings(num: int, image_size: int, seed: int,
                       **scene) -> dict:
    """What a split records in ``meta['generator']``."""
    return dict(version=GENERATOR_VERSION, num=num, image_size=image_size,
                seed=seed, **scene_settings(**scene))


def human_data(records: List[dict], settings: dict) -> dict:
    """HumanData arrays of the records, keypoints stored compressed (only
    the 14 LSP slots, in convention order, with the 190-long masks), and
    the generator ``settings`` in ``meta``."""
    slots = np.asarray(lsp14_human_data_slots())
    mask = np.zeros(HUMAN_DATA_NUM_KEYPOINTS, np.uint8)
    mask[slots] = 1
    order = np.argsort(slots)  # compressed joints follow the convention

    def stack(key, dtype=np.float32):
        return np.stack([r[key] for r in records]).astype(dtype)

    pose = stack('pose')
    return dict(
        __key_strict__=False, __temporal_len__=len(records),
        __keypoints_compressed__=True,
        image_path=np.array([r['image_path'] for r in records]),
        bbox_xywh=stack('bbox_xywh'),
        keypoints2d=stack('keypoints2d')[:, order], keypoints2d_mask=mask,
        keypoints3d=stack('keypoints3d')[:, order], keypoints3d_mask=mask,
        smpl=dict(global_orient=pose[:, :3],
                  body_pose=pose[:, 3:].reshape(-1, 23, 3),
                  betas=stack('betas'), transl=stack('transl')),
        meta=dict(gender=[r['gender'] for r in records],
                  generator=settings),
        config='pointhmr_synthetic')


def render_one(maker: SyntheticRenderer, out_dir: Path, rel_path: str,
               rng: np.random.Generator) -> dict:
    """Render a sample, write its JPEG and return its labels."""
    rec = maker.sample(rng)
    if not cv2.imwrite(str(out_dir / rel_path), rec.pop('image'),
                       [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f'could not write {out_dir / rel_path}')
    rec['image_path'] = rel_path
    return rec


@contextmanager
def _single_thread():
    """Torch on one thread: one small mesh per call, so thread hand-offs
    cost more than the maths (measured 4x slower with 2 threads on a
    loaded 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _render_indices(maker: SyntheticRenderer, indices: List[int],
                    out_dir: Path, split: str, seed: int) -> List[dict]:
    """Samples ``indices`` of a split: sample i from ``(seed, i)``."""
    return [render_one(maker, out_dir, f'images/{split}/{i:06d}.jpg',
                       np.random.default_rng([seed, i])) for i in indices]


_WORKER = {}  # the renderer of a worker process


def _init_worker(body_model_dir: str, image_size: int, scene: dict) -> None:
    torch.set_num_threads(1)
    _WORKER['maker'] = SyntheticRenderer(body_model_dir, image_size, **scene)


def _render_job(indices: List[int], **job_args) -> List[dict]:
    return _render_indices(_WORKER['maker'], indices, **job_args)


def split_exists(out_dir: PathLike, split: str) -> bool:
    """Whether ``split``'s annotation file is in ``out_dir``."""
    return (Path(out_dir) / f'{split}.npz').is_file()


def write_split(out_dir: PathLike, split: str, num: int,
                body_model_dir: PathLike, image_size: int = 256,
                seed: int = 0, overwrite: bool = False,
                num_workers: int = 1, **scene) -> Path:
    """Render ``num`` samples to ``out_dir/images/<split>/000000.jpg``, ...
    and write ``out_dir/<split>.npz`` (HumanData). Sample ``i`` depends
    only on ``(seed, i)``, so ``num_workers`` processes render the same
    split as one. ``scene``: :class:`SyntheticRenderer`'s scene settings.
    All settings are kept in the npz's ``meta['generator']``.

    Raises:
        ValueError: ``num`` is not positive.
        FileExistsError: the split exists and ``overwrite`` is False.
    """
    out_dir = Path(out_dir)
    ann, img_dir = out_dir / f'{split}.npz', out_dir / 'images' / split
    if num <= 0:
        raise ValueError(f'num must be positive, got {num} ({split})')
    if num_workers < 1:
        raise ValueError(f'num_workers must be >= 1, got {num_workers}')
    old = sorted(img_dir.glob(IMAGE_NAME_GLOB)) if img_dir.is_dir() else []
    if (ann.exists() or old) and not overwrite:
        raise FileExistsError(f'{ann if ann.exists() else img_dir} exists; '
                              'pass --overwrite (overwrite=True) to replace '
                              f'the {split} split')
    maker = SyntheticRenderer(body_model_dir, image_size, **scene)
    for path in old:  # only the generator's own file names
        path.unlink()
    img_dir.mkdir(parents=True, exist_ok=True)
    jobs = [list(range(start, min(start + CHUNK_SIZE, num)))
            for start in range(0, num, CHUNK_SIZE)]
    job_args = dict(out_dir=out_dir, split=split, seed=seed)
    records = []
    with tqdm(total=num, desc=f'rendering {split}', unit='img') as bar:
        if num_workers > 1:
            # spawn: a forked child would inherit the parent's OpenMP and
            # torch thread state (deadlock-prone); the start-up costs ~3 s
            context = multiprocessing.get_context('spawn')
            with context.Pool(min(num_workers, len(jobs)),
                              initializer=_init_worker,
                              initargs=(str(body_model_dir), image_size,
                                        maker.scene)) as pool:
                for chunk in pool.imap(
                        partial(_render_job, **job_args), jobs):
                    records += chunk
                    bar.update(len(chunk))
        else:
            with _single_thread():
                for indices in jobs:
                    records += _render_indices(maker, indices, **job_args)
                    bar.update(len(indices))
    settings = generator_settings(num, image_size, seed, **maker.scene)
    # a crash leaves no half-written npz
    write_file_atomically(ann, lambda f: np.savez_compressed(
        f, **human_data(records, settings)))
    return ann


def stored_settings(ann: PathLike) -> Optional[dict]:
    """The generator settings a split was written with (None for files
    from elsewhere or from before they were recorded)."""
    meta = load_npz(ann).get('meta')
    if isinstance(meta, np.ndarray) and meta.dtype == object:
        meta = meta.item()
    return meta.get('generator') if isinstance(meta, dict) else None


def ensure_synthetic_dataset(out_dir: PathLike, body_model_dir: PathLike,
                             num_train: int, num_val: int, seed: int = 0,
                             image_size: int = 256, num_workers: int = 1,
                             **scene) -> Dict[str, Path]:
    """Generate the train and val splits that are absent; keep the others
    (never replaced: a kept split made with other settings only gets a
    warning). ``num_workers``: rendering processes (see
    :func:`write_split`). ``scene``: :class:`SyntheticRenderer`'s scene
    settings.

    Returns:
        dict: split -> annotation file.
    """
    paths = {}
    for split, num in (('train', num_train), ('val', num_val)):
        ann = Path(out_dir) / f'{split}.npz'
        split_seed = seed + SPLIT_SEED_OFFSET[split]
        if split_exists(out_dir, split):
            wanted = generator_settings(num, image_size, split_seed,
                                        **scene)
            stored = stored_settings(ann)
            if stored == wanted:
                print_log(f'{ann} exists: kept (delete it to regenerate)',
                          logger='current')
            else:
                print_log(f'{ann} exists but was not made with {wanted} '
                          f'(it records {stored}); kept as it is: delete '
                          'its folder to regenerate',
                          logger='current', level=logging.WARNING)
        else:
            write_split(out_dir, split, num, body_model_dir, image_size,
                        split_seed, overwrite=True, num_workers=num_workers,
                        **scene)
        paths[split] = ann
    return paths
