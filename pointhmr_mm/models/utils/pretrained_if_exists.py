"""``init_cfg`` initializer that loads pretrained weights when the file is
there and otherwise keeps the module's own initialisation, with a warning.

The released PointHMR starts its HRNet from ROMP's ``pretrain_hrnet.pkl``
when ``./models/pretrain_hrnet.pkl`` exists and from random weights when
it does not. mmengine's ``Pretrained`` initializer stops the run instead,
which would make every W32 config unusable (quick checks, tests, CI)
until the file is downloaded and converted.
"""
import logging
import os.path as osp
import re
from typing import List, Optional

from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

from pointhmr_mm.registry import WEIGHT_INITIALIZERS

# Files already warned about in this process: one warning per file, not one
# per model built (tests and tools build several).
_WARNED = set()
# Keys named in the log when some are missing, before '...'.
MAX_LISTED = 3


def _state_dict(checkpoint, path: str) -> dict:
    """The flat state dict of a loaded checkpoint."""
    if isinstance(checkpoint, dict) and isinstance(
            checkpoint.get('state_dict'), dict):
        checkpoint = checkpoint['state_dict']
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise ValueError(f'{path}: holds no state dict')
    return checkpoint


@WEIGHT_INITIALIZERS.register_module()
class PretrainedIfExists:
    """Load ``checkpoint`` into the module if the file exists.

    Put it last in an ``init_cfg`` list: mmengine applies the entries in
    order, so the ones before it still initialise everything the file does
    not hold (and everything, without the file).

    Args:
        checkpoint: Path of a state dict (plain or under ``state_dict``)
            whose keys are the module's own, e.g. the output of
            ``tools/convert_official_checkpoint.py --backbone-only``.
        source: Where the file comes from, for the warning when it is
            missing.
        allow_missing: Regexes (``re.match``) of module keys the file may
            lack; any other missing key is an error naming the file.
        map_location: Where tensors are loaded.
    """

    def __init__(self, checkpoint: str, source: str = '',
                 allow_missing: Optional[List[str]] = None,
                 map_location: str = 'cpu'):
        if not isinstance(checkpoint, str) or not checkpoint:
            raise ValueError('PretrainedIfExists needs a checkpoint path, '
                             f'got {checkpoint!r}')
        self.checkpoint = checkpoint
        self.source = source
        self.allow_missing = list(allow_missing or [])
        self.map_location = map_location

    def __call__(self, module: nn.Module) -> None:
        if not osp.isfile(self.checkpoint):
            if self.checkpoint not in _WARNED:
                _WARNED.add(self.checkpoint)
                hint = f' ({self.source})' if self.source else ''
                print_log(
                    f'{self.checkpoint} not found: {type(module).__name__} '
                    f'starts from random weights{hint}', logger='current',
                    level=logging.WARNING)
            return
        state = _state_dict(
            _load_checkpoint(self.checkpoint, map_location=self.map_location),
            self.checkpoint)
        try:
            result = module.load_state_dict(state, strict=False)
        except RuntimeError as err:  # shape mismatches
            raise RuntimeError(f'{self.checkpoint}: {err}') from None
        if result.unexpected_keys:
            extra = result.unexpected_keys
            raise KeyError(f'{self.checkpoint} has {len(extra)} keys that '
                           f'{type(module).__name__} lacks, e.g. '
                           f'{extra[:MAX_LISTED]}')
        self._check_missing(result.missing_keys)
        print_log(f'{type(module).__name__}: loaded {self.checkpoint} '
                  f'({len(state)} tensors; {len(result.missing_keys)} kept '
                  'their initialisation)', logger='current')

    def _check_missing(self, missing: List[str]) -> None:
        bad = [k for k in missing
               if not any(re.match(p, k) for p in self.allow_missing)]
        if bad:
            raise KeyError(f'{self.checkpoint} lacks {len(bad)} keys, e.g. '
                           f'{bad[:MAX_LISTED]}; allowed to be missing: '
                           f'{self.allow_missing}')
