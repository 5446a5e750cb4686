"""Checkpointing that never leaves a run without a good checkpoint and
never deletes a file the run did not write."""
import logging
import os
import os.path as osp
from glob import glob

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from pointhmr_mm.registry import HOOKS
from pointhmr_mm.engine.checkpoint_files import (checkpoint_summary,
                                                 partial_checkpoints)
from pointhmr_mm.engine.runner import POINTER_NAME
from pointhmr_mm.utils.atomic_io import write_text_atomically
from .orphaned_best import adopt_orphaned_best

# message-hub key: the checkpoint files this run (and the runs it resumes
# in the same folder) wrote; saved in every checkpoint
WRITTEN_KEY = 'written_ckpts'


def _norm(path: str) -> str:
    """Absolute local paths; object-store URLs as they are."""
    return path if '://' in path else osp.abspath(path)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) that removes only
    files it wrote into its own folder, and each only once its successor is
    complete.

    mmengine 0.10.7 deletes the oldest of ``max_keep_ckpts`` checkpoints,
    and the previous ``save_best`` checkpoint, *before* writing the new
    one, so a crash in between (with ``max_keep_ckpts=1`` always) leaves no
    checkpoint. Here the new file is written first (atomically, by
    :class:`PointHMRRunner`), then ``last_checkpoint`` is replaced
    atomically, and only then are old files removed.

    mmengine also deletes whatever path the resumed message hub names: the
    best checkpoint of *another* run resumed with ``--resume
    other/epoch_2.pth``, or of the original of a copied work dir. Here
    every written file is recorded in the message hub (``written_ckpts``)
    and a file is removed only if it is recorded there and lies in this
    hook's ``out_dir``.

    On start, partial ``*.pth.tmp`` files a killed save left in ``out_dir``
    are removed, and a resumed run takes over a best checkpoint that was
    written after the resumed checkpoint (a kill between the best file and
    the re-saved epoch checkpoint), so "best" is judged against its score.
    """

    def before_train(self, runner) -> None:
        """As the parent, but the checkpoints beyond ``max_keep_ckpts`` go
        through :meth:`_remove`; then clean-up and orphaned bests."""
        expired = self._trim_keep_ids(runner)
        super().before_train(runner)
        self._written = [_norm(p) for p in
                         runner.message_hub.get_info(WRITTEN_KEY) or []]
        if not is_main_process():
            return
        for step in expired:
            self._remove(runner, self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(step)))
        if '://' not in str(self.out_dir):
            for path in partial_checkpoints(self.out_dir):
                os.remove(path)
                runner.logger.warning(f'Removed {path}, a checkpoint whose '
                                      'save was interrupted')
            if self.save_best and (runner.iter > 0 or runner.epoch > 0):
                self._adopt_orphaned_bests(runner)

    def _trim_keep_ids(self, runner) -> list:
        """Cut the resumed ``keep_ckpt_ids`` to ``max_keep_ckpts`` before
        the parent (which would delete unchecked); returns the cut ids."""
        keep = self.max_keep_ckpts
        ids = list(runner.message_hub.get_info('keep_ckpt_ids') or [])
        if keep <= 0 or len(ids) <= keep:
            return []
        runner.message_hub.update_info('keep_ckpt_ids', ids[-keep:])
        return ids[:-keep]

    def _record(self, runner, path: str, written: bool = True) -> None:
        """Add ``path`` to (or drop it from) the written files."""
        path = _norm(path)
        paths = self.__dict__.setdefault('_written', [])
        if written and path not in paths:
            paths.append(path)
        elif not written and path in paths:
            paths.remove(path)
        runner.message_hub.update_info(WRITTEN_KEY, list(paths))

    def _owns(self, path: str) -> bool:
        """Whether this run wrote ``path`` into its own ``out_dir``."""
        path = _norm(path)
        if path not in getattr(self, '_written', []):
            return False
        if '://' in path:
            return path.startswith(str(self.out_dir).rstrip('/') + '/')
        return osp.realpath(osp.dirname(path)) == osp.realpath(self.out_dir)

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
        self._record(runner, self.last_ckpt)  # before: the file lists itself
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

    def _best_names(self, runner) -> list:
        """The paths the parent would give this step's best checkpoints."""
        step = runner.epoch if self.by_epoch else runner.iter
        name = self.filename_tmpl.format(step)
        return [self.file_backend.join_path(
            self.out_dir, f'best_{key}_{name}'.replace('/', '_'))
            for key in self.key_indicators]

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
        candidates = self._best_names(runner)
        for path in candidates:  # recorded before the parent writes them
            self._record(runner, path)
        try:  # with no previous path recorded the parent removes nothing
            super()._save_best_checkpoint(runner, metrics)
        except BaseException:
            self._set_best_paths(single, before)  # the old files remain
            raise
        finally:
            new_paths = [self.best_ckpt_path] if single else list(
                self.best_ckpt_path_dict.values())
            for path in candidates:
                if path not in new_paths:
                    self._record(runner, path, written=False)
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
        """Delete an outdated checkpoint file or (DeepSpeed) folder, if
        this run wrote it into its own folder; otherwise leave it."""
        exists = self.file_backend.isfile(path) or \
            self.file_backend.isdir(path)
        if not exists:
            self._record(runner, path, written=False)
            return
        if not self._owns(path):
            runner.logger.info(f'Kept {path}: this run did not write it '
                               f'into {self.out_dir}')
            return
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        else:
            self.file_backend.rmtree(path)
        self._record(runner, path, written=False)
        runner.logger.info(f'Removed the outdated checkpoint {path}')

    def _adopt_orphaned_bests(self, runner) -> None:
        """Judge the best_* files of ``out_dir`` that the resumed message
        hub does not name (see :func:`adopt_orphaned_best`)."""
        for key in self.key_indicators:
            pattern = f'best_{key}_*.pth'.replace('/', '_')
            for path in sorted(glob(osp.join(self.out_dir, pattern))):
                try:
                    summary = checkpoint_summary(path)
                except Exception as err:  # unreadable: not ours to judge
                    runner.logger.warning(f'Kept {path}: cannot read it '
                                          f'({err})')
                    continue
                adopt_orphaned_best(self, runner, key, path, summary)
