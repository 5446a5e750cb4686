"""Simulates a run killed right after an epoch's checkpoint."""
import os

from mmengine.hooks import Hook

from pointhmr_mm.registry import HOOKS

EXIT_CODE = 3  # what the killed process ends with


@HOOKS.register_module(force=True)
class KillAfterEpochHook(Hook):
    """Ends the process with ``EXIT_CODE`` after epoch ``epoch``, as a
    kill would: no clean-up, no further hook."""
    priority = 'LOWEST'  # after the checkpoint hook

    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:
            os._exit(EXIT_CODE)
