"""Synthetic training data from the embedded Anny bodies.

One concern per module: :mod:`.body` (the genders of a body folder, part
labels, shapes), :mod:`.pose` (joint limits re-centred on the body's rest,
random poses), :mod:`.appearance` (skin, hair and clothes as per-vertex
colours), :mod:`.scene` (backgrounds, lighting), :mod:`.camera`
(placement, projection), :mod:`.render` (:class:`SyntheticRenderer`,
which composes them), :mod:`.writer` (HumanData splits),
:mod:`.quickstart` (the quick start's assets) and :mod:`.preview` (a grid
of samples).
"""
from .camera import FOCAL_PER_SIDE, SyntheticCamera
from .preview import sample_grid
from .quickstart import ensure_quickstart_assets, prepare_config_assets
from .render import SyntheticRenderer
from .scene import BACKGROUND_SHAPES, random_background, scene_settings
from .writer import (SPLIT_SEED_OFFSET, ensure_synthetic_dataset,
                     split_exists, stored_settings, write_split)

__all__ = [
    'BACKGROUND_SHAPES', 'FOCAL_PER_SIDE', 'SPLIT_SEED_OFFSET',
    'SyntheticCamera', 'SyntheticRenderer', 'ensure_quickstart_assets',
    'prepare_config_assets',
    'ensure_synthetic_dataset', 'random_background', 'sample_grid',
    'scene_settings', 'split_exists', 'stored_settings', 'write_split'
]
