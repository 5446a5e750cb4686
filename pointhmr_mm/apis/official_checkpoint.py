"""Map the released PointHMR state dict (DCVL-3D/PointHMR_release) onto
this implementation's module names.
"""
import re
from typing import Dict, List, Mapping, Tuple

from torch import Tensor

# (released pattern, our replacement); the first full match wins.
KEY_RULES: Tuple[Tuple[str, str], ...] = (
    (r'backbone\.(.+)', r'backbone.\1'),
    (r'feature_extract_layer\.(.+)', r'neck.target_decoder.\1'),
    (r'heatmap_layer\.(.+)', r'neck.heatmap_decoder.\1'),
    (r'grid_layer\.(.+)', r'neck.grid_decoder.\1'),
    (r'cam_layer\.(weight|bias)', r'neck.camera_mix.\1'),
    (r'joint_token_embed\.weight', r'head.joint_queries.weight'),
    (r'token_position_embed\.weight', r'head.token_position.weight'),
    (r'transformer\.transformer_([1-4])\.(layers\..+|norm\..+)',
     lambda m: f'head.blocks.{int(m.group(1)) - 1}.{m.group(2)}'),
    (r'transformer\.dim_reduce\.(weight|bias)', r'head.projections.2.\1'),
    (r'transformer\.xyz_regressor\.(weight|bias)', r'head.xyz_regressor.\1'),
    (r'transformer\.cam_predictor\.(weight|bias)',
     r'head.camera_regressor.\1'),
)
# Built by the released code but never used in its forward pass.
UNUSED_KEYS = ('cam_token_embed.weight', 'vertex_token_embed.weight')
# Every converted state dict must contain keys starting with these.
REQUIRED_PREFIXES = (
    'backbone.', 'neck.target_decoder.', 'neck.heatmap_decoder.',
    'neck.grid_decoder.', 'neck.camera_mix.', 'head.joint_queries.',
    'head.token_position.', 'head.blocks.0.', 'head.blocks.1.',
    'head.blocks.2.', 'head.blocks.3.', 'head.projections.2.',
    'head.xyz_regressor.', 'head.camera_regressor.')
# Wrappers seen around released or re-saved checkpoints.
NESTING_KEYS = ('model', 'state_dict')
DDP_PREFIX = 'module.'


def unwrap_state_dict(checkpoint: Mapping) -> Dict[str, Tensor]:
    """Return the flat state dict, whether plain or nested under ``model``
    or ``state_dict``; a DDP ``module.`` prefix is removed."""
    state = checkpoint
    for key in NESTING_KEYS:
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping) or not state:
        raise ValueError('checkpoint holds no state dict (looked for a plain '
                         f'dict of tensors or one nested under {NESTING_KEYS})')
    return {
        (k[len(DDP_PREFIX):] if k.startswith(DDP_PREFIX) else k): v
        for k, v in state.items()
    }


def convert_official_state_dict(
        checkpoint: Mapping) -> Tuple[Dict[str, Tensor], List[str]]:
    """Convert a released PointHMR checkpoint.

    Args:
        checkpoint: The loaded file: a state dict, or one nested under
            ``model``/``state_dict``.

    Returns:
        tuple: the converted state dict, and the released keys that were
        dropped because the released model never uses them.

    Raises:
        KeyError: A key matches no rule, or a required part is missing.
    """
    state = unwrap_state_dict(checkpoint)
    converted, unused, unknown = {}, [], []
    for key, value in state.items():
        if key in UNUSED_KEYS:
            unused.append(key)
            continue
        for pattern, repl in KEY_RULES:
            match = re.fullmatch(pattern, key)
            if match:
                converted[match.expand(repl) if isinstance(repl, str) else
                          repl(match)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise KeyError(f'{len(unknown)} keys are not part of the released '
                       f'PointHMR layout, e.g. {unknown[:5]}')
    missing = [
        p for p in REQUIRED_PREFIXES
        if not any(k.startswith(p) for k in converted)
    ]
    if missing:
        raise KeyError(f'the checkpoint lacks released parts that map to '
                       f'{missing}')
    return converted, unused
