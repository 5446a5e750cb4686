"""Evaluate a PointHMR checkpoint with mmengine's Runner.

    python tools/test.py CONFIG CKPT [--work-dir DIR]
        [--out preds.pkl|preds.json] [--dump samples.pkl]
        [--show-dir DIR] [--show] [--interval N]
        [--vis-backend tensorboard] [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi]

``--out`` writes one record per sample: its metainfo (``img_path``,
``sample_idx``, box, crop matrix, ...), the predictions (``pred_*``, without
the vertex heatmaps) and the ground truth it has (``gt_*``; fields of
labels a sample lacks are left out), as numpy arrays in a ``.pkl`` or lists
in a ``.json``. ``--dump`` writes mmengine's ``DumpResults`` layout: a
pickle of a list of the data samples' dicts, every field kept, tensors on
the CPU, each sample's own (not views of its batch) -- what
``mmengine.evaluator.Evaluator.offline_evaluate`` takes as
``data_samples``.

The metrics are printed and written to
``<work dir>/test_metrics_<time>.json`` before ``--out`` and ``--dump`` are
written (``MetricsFirstEvaluator``), and every output path is checked
before the test starts, so no evaluation is lost to an unwritable path.

``--show-dir DIR`` draws every ``--interval``-th sample (mesh over the
crop, side view, heatmaps) into DIR (relative paths: under the work dir);
``--show`` shows them in a window, where there is a display.

Several processes: ``tools/dist_test.sh CONFIG CKPT N`` or
``tools/slurm_test.sh``.
"""
import argparse
import os
import os.path as osp
import time

from mmengine.config import Config

from pointhmr_mm.engine.config_check import check_writable
from pointhmr_mm.engine.entry_points import (ConfigError, add_common_args,
                                             apply_common_args,
                                             export_local_rank, run_tool)
from pointhmr_mm.visualization.display import has_display

OUT_SUFFIXES = ('.pkl', '.pickle', '.json')
DUMP_SUFFIXES = ('.pkl', '.pickle')
# Intermediate (V, h, w) maps, about 30 times the size of the rest of a
# quick-start sample; --dump keeps them.
OUT_EXCLUDED = ('pred_heatmaps', )
VIS_HOOK = 'MeshVisualizationHook'
EVALUATOR = 'MetricsFirstEvaluator'
PLAIN_EVALUATORS = ('Evaluator', 'mmengine.Evaluator', EVALUATOR)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a PointHMR model')
    parser.add_argument('config', help='test config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='write per-sample predictions to this '
                        '.pkl or .json file')
    parser.add_argument('--dump', help="write the data samples in mmengine's "
                        'DumpResults layout to this .pkl file')
    parser.add_argument('--show-dir', help='draw samples into this folder '
                        '(relative: under the work dir)')
    parser.add_argument('--show', action='store_true',
                        help='show the drawn samples in a window')
    parser.add_argument('--interval', type=int, default=1,
                        help='draw every N-th sample (--show, --show-dir)')
    add_common_args(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    if not os.path.isfile(args.checkpoint):
        parser.error(f'checkpoint {args.checkpoint}: no such file')
    if args.out is not None and not args.out.endswith(OUT_SUFFIXES):
        parser.error(f'--out {args.out}: must end with {OUT_SUFFIXES}')
    if args.dump is not None and not args.dump.endswith(DUMP_SUFFIXES):
        parser.error(f'--dump {args.dump}: must end with {DUMP_SUFFIXES}')
    if args.interval < 1:
        parser.error(f'--interval {args.interval}: must be at least 1')
    if args.show and not has_display():
        parser.error('--show needs a display, and there is none (DISPLAY '
                     'and WAYLAND_DISPLAY are unset); use --show-dir DIR to '
                     'write the pictures to files instead')
    return args


def add_visualization(cfg: Config, args: argparse.Namespace) -> None:
    """Point the visualization hook at ``--show-dir`` / ``--show``,
    drawing every ``--interval``-th sample (the config's ``max_samples``
    cap is lifted)."""
    hooks = cfg.setdefault('default_hooks', {})
    hook = hooks.get('visualization') or dict(type=VIS_HOOK)
    if hook.get('type') not in (VIS_HOOK, f'pointhmr_mm.{VIS_HOOK}'):
        raise ConfigError(f'--show/--show-dir: default_hooks.visualization '
                          f'of {args.config} is a {hook.get("type")}, not a '
                          f'{VIS_HOOK}')
    hook.update(enable=True, max_samples=None, sample_interval=args.interval,
                show=args.show)
    if args.show_dir is not None:
        hook['out_dir'] = args.show_dir
    hooks['visualization'] = hook


def add_dump(cfg: Config, args: argparse.Namespace, metric: dict) -> None:
    evaluators = cfg.get('test_evaluator')
    if evaluators is None:
        raise ConfigError(f'{args.config} has no test_evaluator')
    if isinstance(evaluators, dict) and 'metrics' in evaluators:
        inner = evaluators['metrics']
        evaluators.metrics = (inner if isinstance(inner, list)
                              else [inner]) + [metric]
        return
    if not isinstance(evaluators, list):
        evaluators = [evaluators]
    cfg.test_evaluator = evaluators + [metric]


def check_outputs(cfg: Config, args: argparse.Namespace) -> None:
    """Refuse, before the test runs, output paths that cannot be written.

    Raises:
        ConfigError: Naming the option and the path.
    """
    for option, path in (('--out', args.out), ('--dump', args.dump)):
        if path is not None:
            check_writable(path, option)
    if args.show_dir is not None:
        check_writable(osp.join(cfg.work_dir, args.show_dir), '--show-dir',
                       is_dir=True)


def metrics_first(cfg: Config, args: argparse.Namespace) -> None:
    """Make ``cfg.test_evaluator`` a ``MetricsFirstEvaluator`` that writes
    ``<work dir>/test_metrics_<time>.json`` before any dump."""
    evaluator = cfg.get('test_evaluator')
    if evaluator is None:
        raise ConfigError(f'{args.config} has no test_evaluator')
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        if evaluator.get('type', 'Evaluator') not in PLAIN_EVALUATORS:
            return  # the config's own evaluator class
        metrics = evaluator['metrics']
    else:
        metrics = evaluator
    stamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    cfg.test_evaluator = dict(
        type=EVALUATOR,
        metrics=metrics if isinstance(metrics, list) else [metrics],
        metrics_file=osp.join(cfg.work_dir, f'test_metrics_{stamp}.json'),
        header=dict(config=args.config,
                    checkpoint=osp.abspath(args.checkpoint)))


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Fold the command line into ``cfg`` (in place) and return it."""
    apply_common_args(cfg, args)
    check_outputs(cfg, args)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.show or args.show_dir is not None:
        add_visualization(cfg, args)
    if args.out is not None:
        add_dump(cfg, args, dict(
            type='DumpMeshResults', out_file_path=args.out,
            exclude_keys=OUT_EXCLUDED, drop_empty_gt=True, to_numpy=True))
    if args.dump is not None:
        add_dump(cfg, args, dict(type='DumpMeshResults',
                                 out_file_path=args.dump))
    metrics_first(cfg, args)
    return cfg


def main(argv=None) -> None:
    run_tool(parse_args(argv), merge_args, 'test')


if __name__ == '__main__':
    main()
