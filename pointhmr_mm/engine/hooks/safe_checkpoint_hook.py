"""Checkpointing that never leaves a run without a good checkpoint."""
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from pointhmr_mm.registry import HOOKS


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that writes the new checkpoint before removing
    old ones (mmengine removes first) and updates ``last_checkpoint``
    atomically, only once the new file is complete."""

    def _save_checkpoint_with_step(self, runner, step, meta):
        keep = self.max_keep_ckpts
        expired = []
        if keep > 0 and (not self.keep_ckpt_ids
                         or self.keep_ckpt_ids[-1] != step):
            # keep_ckpt_ids is a deque with maxlen: make room explicitly
            if len(self.keep_ckpt_ids) == keep:
                expired.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            # recorded in this checkpoint, so a resumed run prunes correctly
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        ckpt = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, ckpt, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        with open(pointer + '.tmp', 'w') as f:
            f.write(self.last_ckpt)
        os.replace(pointer + '.tmp', pointer)
        for old_step in expired:  # only now that the new one is complete
            old = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(old_step))
            if self.file_backend.isfile(old):
                self.file_backend.remove(old)
