"""mmengine's LogProcessor, with the epoch and iteration on validation
lines, so that a plot can put validation metrics on either axis."""
from collections import OrderedDict
from typing import Tuple

from mmengine.runner import LogProcessor

from pointhmr_mm.registry import LOG_PROCESSORS


@LOG_PROCESSORS.register_module()
class EpochLogProcessor(LogProcessor):
    """As mmengine's ``LogProcessor``; validation tags also carry
    ``epoch`` (epochs trained so far) and ``iter`` (steps trained so far).

    mmengine writes a validation line of ``scalars.json`` with only
    ``step``, which is the epoch or the iteration depending on the
    ``LoggerHook``'s ``log_metric_by_epoch``; training lines carry
    ``epoch`` and ``iter``. ``tools/analysis/analyze_logs.py`` reads these
    keys and does not have to guess. Test runs (no training loop) get
    neither key. Same arguments as ``LogProcessor``.
    """

    def get_log_after_epoch(self, runner, batch_idx: int, mode: str,
                            with_non_scalar: bool = False
                            ) -> Tuple[dict, str]:
        tag, log_str = super().get_log_after_epoch(runner, batch_idx, mode,
                                                   with_non_scalar)
        # runner.epoch would build a train loop that is still a config
        # dict (a standalone test/val run); such runs have no position
        train_loop = runner._train_loop
        if mode != 'val' or train_loop is None or isinstance(train_loop,
                                                             dict):
            return tag, log_str
        position = OrderedDict(epoch=runner.epoch, iter=runner.iter)
        position.update(tag)
        return position, log_str
