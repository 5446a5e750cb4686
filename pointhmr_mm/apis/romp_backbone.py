"""ROMP's ``pretrain_hrnet.pkl`` (the HRNet-W32 the released PointHMR starts
from) as an mmpretrain ``HRNet`` (arch ``w32``) checkpoint.

ROMP saves a plain state dict of its ``HigherResolutionNet`` without a
prefix (``conv1.*``, ``bn1.*``, ``layer1.*``, ``transition1-3.*``,
``stage2-4.*``). The released ``src/modeling/backbone/hrnet_32.py`` and
mmpretrain's ``HRNet`` name their modules the same way with the same
shapes, so the keys carry over one to one; what this module adds is the
check of every key and shape, and the list of what the file lacks:

- ROMP builds stage 4 with ``multi_scale_output=False``, so the last
  stage-4 module has fuse layers only into the 56 px branch
  (``stage4.2.fuse_layers.0.*``). The fuse layers into the 28, 14 and 7 px
  branches (``stage4.2.fuse_layers.{1,2,3}.*``), which make the 7 px map
  PointHMR reads, are not in the file and keep their initialisation (as
  in the released code, whose ``copy_state_dict`` skips them).
- Files saved by PyTorch < 0.4.1 have no ``num_batches_tracked``.

The same conversion takes the backbone out of a full released PointHMR
checkpoint (keys ``backbone.*``).
"""
import functools
import re
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor

from .official_checkpoint import unwrap_state_dict

# The fuse layers a multi_scale_output=False stage 4 does not build.
ROMP_ABSENT = re.compile(r'stage4\.2\.fuse_layers\.[123]\.')
# Counters the loader may lack; BatchNorm starts them at 0.
OPTIONAL_SUFFIX = 'num_batches_tracked'
# ROMP's 2D-heatmap head used while pre-training; not part of the backbone.
HEAD_PREFIXES = ('final_layer', 'final_layers')
RELEASED_PREFIX = 'backbone.'


@functools.lru_cache(maxsize=1)
def hrnet_w32_shapes() -> Dict[str, torch.Size]:
    """Key -> shape of mmpretrain's ``HRNet(arch='w32')`` (the recipe's
    backbone), built once per process on the CPU to read its state dict
    (callers copy the dict)."""
    from mmpretrain.models import HRNet
    return {k: v.shape for k, v in HRNet(arch='w32').state_dict().items()}


def may_be_absent(key: str) -> bool:
    """Whether a ROMP file is expected to lack ``key``."""
    return bool(ROMP_ABSENT.match(key)) or key.endswith(OPTIONAL_SUFFIX)


def _backbone_part(state: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """The backbone keys: all of a plain ROMP dict, or the ``backbone.``
    keys (prefix removed) of a full released PointHMR state dict."""
    if any(k.startswith(RELEASED_PREFIX) for k in state):
        return {k[len(RELEASED_PREFIX):]: v for k, v in state.items()
                if k.startswith(RELEASED_PREFIX)}
    return dict(state)


def convert_romp_backbone(
    checkpoint: Mapping,
    reference: Optional[Mapping[str, torch.Size]] = None
) -> Tuple[Dict[str, Tensor], List[str], List[str]]:
    """Check and convert an HRNet-W32 backbone state dict.

    Args:
        checkpoint: The loaded file: ROMP's plain state dict (possibly with
            a DDP ``module.`` prefix or nested under ``state_dict``), or a
            full released PointHMR state dict.
        reference: Key -> shape of the target backbone; None: mmpretrain's
            ``HRNet(arch='w32')``.

    Returns:
        tuple: the converted state dict (mmpretrain key names, tensors
        unchanged), the target keys the file lacks (all of them expected:
        see the module docstring), and the dropped ROMP head keys.

    Raises:
        KeyError: A key is not part of HRNet-W32, or a key that every ROMP
            file has is missing (a truncated or different file).
        ValueError: A tensor's shape differs from the target's.
    """
    reference = dict(reference or hrnet_w32_shapes())
    state = _backbone_part(unwrap_state_dict(checkpoint))
    dropped = sorted(k for k in state if k.startswith(HEAD_PREFIXES))
    unknown = sorted(k for k in state
                     if k not in reference and k not in dropped)
    if unknown:
        raise KeyError(f'{len(unknown)} keys are not part of HRNet-W32 '
                       f'(is this ROMP\'s pretrain_hrnet.pkl?), e.g. '
                       f'{unknown[:5]}')
    for key, value in state.items():
        if key in reference and tuple(value.shape) != tuple(reference[key]):
            raise ValueError(f"key '{key}' has shape {tuple(value.shape)}, "
                             f'HRNet-W32 expects {tuple(reference[key])}')
    missing = sorted(k for k in reference if k not in state)
    required = [k for k in missing if not may_be_absent(k)]
    if required:
        raise KeyError(f'the file lacks {len(required)} HRNet-W32 keys that '
                       f'ROMP\'s backbone has, e.g. {required[:5]}')
    converted = {k: v for k, v in state.items() if k in reference}
    return converted, missing, dropped
