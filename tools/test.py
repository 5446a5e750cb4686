"""Evaluate a PointHMR checkpoint with mmengine's Runner.

    python tools/test.py CONFIG CKPT [--work-dir DIR] [--out results.pkl]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

Several processes: ``tools/dist_test.sh CONFIG CKPT N`` or
``tools/slurm_test.sh``.
"""
import argparse
import os.path as osp

from mmengine.config import Config

from pointhmr_mm.engine.entry_points import (add_common_args,
                                             apply_common_args,
                                             export_local_rank, run_tool)

PICKLE_SUFFIXES = ('.pkl', '.pickle')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a PointHMR model')
    parser.add_argument('config', help='test config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='also dump the per-sample '
                        'predictions to this .pkl file')
    add_common_args(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    if not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint {args.checkpoint}: no such file')
    if args.out is not None and not args.out.endswith(PICKLE_SUFFIXES):
        parser.error(f'--out {args.out}: must end with {PICKLE_SUFFIXES}')
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Fold the command line into ``cfg`` (in place) and return it."""
    apply_common_args(cfg, args)
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
    run_tool(parse_args(argv), merge_args, 'test')


if __name__ == '__main__':
    main()
