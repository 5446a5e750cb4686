"""Evaluate a PointHMR checkpoint with mmengine's Runner.

    python tools/test.py CONFIG CKPT [--work-dir DIR] [--out results.pkl]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

Several processes: ``tools/dist_test.sh CONFIG CKPT N`` or
``tools/slurm_test.sh``.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.dist import barrier, is_distributed, is_main_process

from pointhmr_mm.engine import setup_distributed
from pointhmr_mm.engine.dist import LAUNCHERS
from pointhmr_mm.engine.runner import build_runner
from pointhmr_mm.utils import prepare_config_assets, register_all_modules

PICKLE_SUFFIXES = ('.pkl', '.pickle')
WORK_DIRS = './work_dirs'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a PointHMR model')
    parser.add_argument('config', help='test config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs and metrics go')
    parser.add_argument('--out', help='also dump the per-sample '
                        'predictions to this .pkl file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--launcher', default='none', choices=LAUNCHERS)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint {args.checkpoint}: no such file')
    if args.out is not None and not args.out.endswith(PICKLE_SUFFIXES):
        parser.error(f'--out {args.out}: must end with {PICKLE_SUFFIXES}')
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Fold the command line into ``cfg`` (in place) and return it."""
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join(
            WORK_DIRS, osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.out is not None:
        evaluators = cfg.get('test_evaluator')
        if evaluators is None:
            raise KeyError(f'{args.config} has no test_evaluator')
        if not isinstance(evaluators, list):
            evaluators = [evaluators]
        # mmengine's DumpResults writes what the model predicted per sample
        cfg.test_evaluator = evaluators + [
            dict(type='mmengine.DumpResults', out_file_path=args.out)
        ]
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    register_all_modules()
    cfg = merge_args(Config.fromfile(args.config), args)
    setup_distributed(cfg, args.launcher)
    if is_main_process():  # one process makes missing quick-start assets
        prepare_config_assets(cfg)
    if is_distributed():
        barrier()
    build_runner(cfg).test()


if __name__ == '__main__':
    main()
