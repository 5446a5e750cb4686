"""Checkpointing that never leaves a run without a good checkpoint."""
import logging
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from pointhmr_mm.registry import HOOKS
from pointhmr_mm.engine.runner import POINTER_NAME, write_text_atomically


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) that removes a file
    only once its successor is complete.

    mmengine 0.10.7 deletes the oldest of ``max_keep_ckpts`` checkpoints,
    and the previous ``save_best`` checkpoint, *before* writing the new
    one, so a crash in between (with ``max_keep_ckpts=1`` always) leaves no
    checkpoint. Here the new file is written first (atomically, by
    :class:`PointHMRRunner`), then ``last_checkpoint`` is replaced
    atomically, and only then are old files removed.
    """

    def _save_checkpoint_with_step(self, runner, step: int,
                                   meta: dict) -> None:
        expired = []
        keep = self.max_keep_ckpts
        if keep > 0 and (not self.keep_ckpt_ids
                         or self.keep_ckpt_ids[-1] != step):
            # keep_ckpt_ids is a deque with maxlen: make room explicitly so
            # the step that falls out is known
            if len(self.keep_ckpt_ids) == keep:
                expired.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            # stored in this checkpoint, so a resumed run prunes correctly
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        ckpt_name = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_name)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, ckpt_name, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        write_text_atomically(osp.join(runner.work_dir, POINTER_NAME),
                              self.last_ckpt)
        for old_step in expired:
            self._remove(runner, self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(old_step)))

    def _save_best_checkpoint(self, runner, metrics: dict) -> None:
        """As the parent, but the previous best file is removed after the
        new one is written, not before."""
        if not self.save_best:
            return
        if 'auto' in self.key_indicators:  # the parent resolves it first
            self._init_rule(self.rules, [next(iter(metrics))])
        missing = [k for k in self.key_indicators if k not in metrics]
        if missing:
            # e.g. a val set of several protocols prefixes every key
            # ('mesh/3dpw/PA-MPJPE'); a KeyError here would end the run
            print_log(f'SafeCheckpointHook: save_best={missing} not among '
                      f'the metrics {sorted(metrics)}; no best checkpoint '
                      'this time (set default_hooks.checkpoint.save_best to '
                      'one of them)', logger='current',
                      level=logging.WARNING)
            return
        single = len(self.key_indicators) == 1
        if single:
            before = {None: getattr(self, 'best_ckpt_path', None)}
            self.best_ckpt_path = None
        else:
            before = dict(self.best_ckpt_path_dict)
            self.best_ckpt_path_dict = dict.fromkeys(before)
        try:  # with no previous path recorded the parent removes nothing
            super()._save_best_checkpoint(runner, metrics)
        except BaseException:
            self._set_best_paths(single, before)  # the old files remain
            raise
        for key, old in before.items():
            new = self.best_ckpt_path if single else \
                self.best_ckpt_path_dict[key]
            if new is None:  # not improved: keep the previous best
                self._set_best_paths(single, {key: old})
            elif old is not None and old != new and is_main_process():
                self._remove(runner, old)

    def _set_best_paths(self, single: bool, paths: dict) -> None:
        """Set ``best_ckpt_path`` (one indicator, key None) or entries of
        ``best_ckpt_path_dict``."""
        for key, path in paths.items():
            if single:
                self.best_ckpt_path = path
            else:
                self.best_ckpt_path_dict[key] = path

    def _remove(self, runner, path: str) -> None:
        """Delete an outdated checkpoint file or (DeepSpeed) folder."""
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            self.file_backend.rmtree(path)
        else:
            return
        runner.logger.info(f'Removed the outdated checkpoint {path}')
