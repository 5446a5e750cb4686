"""Kills the training process (SIGKILL, as the OOM killer or a scheduler
would) at a chosen point: after a training step, in the middle of writing
a checkpoint file, or after a checkpoint's rename and before its
``last_checkpoint`` pointer is written."""
import os
import signal

from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import Hook

from pointhmr_mm.engine.hooks import safe_checkpoint_hook
from pointhmr_mm.registry import HOOKS

WHERE = ('step', 'checkpoint_write', 'before_pointer')


def kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module(force=True)
class FaultInjectionHook(Hook):
    """Kill the process at the ``count``-th (from 1) event of ``where``.

    Args:
        where: 'step' (after training iteration ``count``, counted over
            the whole run), 'checkpoint_write' (half of the ``count``-th
            checkpoint file written, then killed) or 'before_pointer'
            (the ``count``-th checkpoint renamed into place, the pointer
            not yet written).
        count: Which event.
    """
    priority = 'LOWEST'

    def __init__(self, where: str, count: int):
        if where not in WHERE:
            raise ValueError(f'where must be one of {WHERE}, got {where!r}')
        self.where, self.count, self.seen = where, count, 0

    def before_train(self, runner) -> None:
        if self.where == 'checkpoint_write':
            real_put = LocalBackend.put

            def put(backend, obj, filepath):
                if str(filepath).endswith('.pth.tmp'):
                    self.seen += 1
                    if self.seen == self.count:
                        with open(filepath, 'wb') as f:
                            f.write(obj[:len(obj) // 2])
                        kill()
                return real_put(backend, obj, filepath)

            LocalBackend.put = put
        elif self.where == 'before_pointer':
            real_write = safe_checkpoint_hook.write_text_atomically

            def write(path, text):
                self.seen += 1
                if self.seen == self.count:
                    kill()
                return real_write(path, text)

            safe_checkpoint_hook.write_text_atomically = write

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if self.where == 'step' and runner.iter + 1 == self.count:
            kill()
