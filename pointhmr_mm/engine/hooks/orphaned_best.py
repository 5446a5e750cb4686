"""What a resumed run does with a ``best_*`` checkpoint that its message
hub does not name.

The best checkpoint of an epoch is written after validation, then the
epoch's checkpoint is saved again so that it records the new best, then
the previous best file is removed. A kill in between leaves, on resume:

* a best file newer than the resumed checkpoint's record: its score is the
  validation of the resumed weights themselves, which the resumed run will
  not repeat, so it is taken over (score and path) and the older best goes;
* an older best the run did not get to remove: superseded, removed.

A best file of a later epoch than the resumed one (the run was resumed
from an earlier checkpoint) is left alone and not counted: the resumed run
validates that epoch again and judges anew.
"""
import os.path as osp


def _norm(path: str) -> str:
    return path if '://' in path else osp.abspath(path)


def _keys(hook, key: str) -> tuple:
    """Message-hub keys of ``key``'s best score and best path."""
    if len(hook.key_indicators) == 1:
        return 'best_score', 'best_ckpt'
    return f'best_score_{key}', f'best_ckpt_{key}'


def _current(hook, key: str):
    if len(hook.key_indicators) == 1:
        return getattr(hook, 'best_ckpt_path', None)
    return hook.best_ckpt_path_dict.get(key)


def adopt_orphaned_best(hook, runner, key: str, path: str,
                        summary: dict) -> None:
    """Take over, remove or leave the best checkpoint ``path``.

    Args:
        hook: The ``SafeCheckpointHook`` (after its ``before_train`` set-up).
        runner: The resumed runner.
        key: The ``save_best`` key indicator the file is named after.
        path: The ``best_*`` file in the hook's ``out_dir``.
        summary: Its :func:`checkpoint_summary` (``meta``,
            ``runtime_info``).
    """
    current = _current(hook, key)
    if current is not None and _norm(current) == _norm(path):
        return
    score_key, ckpt_key = _keys(hook, key)
    info, meta = summary['runtime_info'], summary['meta']
    if _norm(str(info.get(ckpt_key) or '')) != _norm(path):
        runner.logger.info(f'Kept {path}: not written by a run of '
                           f'{hook.out_dir}')
        return
    unit = 'epoch' if hook.by_epoch else 'iter'
    done = runner.epoch if hook.by_epoch else runner.iter
    if meta.get(unit, 0) > done:
        runner.logger.warning(
            f'{path} is from {unit} {meta.get(unit)}, after the resumed '
            f'{unit} {done}; not counted as the best (that {unit} is '
            'validated again)')
        return
    hook._record(runner, path)  # written here by this run's lineage
    rule = hook.rules[hook.key_indicators.index(key)]
    best = runner.message_hub.get_info(score_key,
                                       hook.init_value_map[rule])
    score = info.get(score_key)
    if score is None or not hook.is_better_than[key](score, best):
        hook._remove(runner, path)  # an older best not yet removed
        return
    runner.message_hub.update_info(score_key, score)
    runner.message_hub.update_info(ckpt_key, path)
    hook._set_best_paths(len(hook.key_indicators) == 1,
                         {None if len(hook.key_indicators) == 1 else key:
                          path})
    runner.logger.warning(
        f'Took over {path} as the best checkpoint ({key}={score:.4f}; the '
        f'resumed checkpoint recorded {best}): it was written after the '
        'resumed checkpoint, before the run stopped')
    if current is not None:
        hook._remove(runner, current)
