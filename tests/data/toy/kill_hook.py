"""Simulates a run killed right after an epoch's checkpoint."""
import os

from mmengine.hooks import Hook

from pointhmr_mm.registry import HOOKS


@HOOKS.register_module(force=True)
class KillAfterEpochHook(Hook):
    priority = 'LOWEST'  # after the checkpoint hook

    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:
            os._exit(3)
