"""Evaluate a PointHMR checkpoint.

    python tools/test.py CONFIG CKPT [--work-dir DIR] [--out results.pkl]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

from pointhmr_mm.engine import setup_distributed
from pointhmr_mm.registry import RUNNERS
from pointhmr_mm.utils import prepare_config_assets, register_all_modules


def parse_args():
    parser = argparse.ArgumentParser(description='Test PointHMR')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--work-dir')
    parser.add_argument('--out', help='dump per-sample predictions (.pkl)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'{args.checkpoint}: no such checkpoint')
    register_all_modules()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError('--out must end with .pkl')
        evaluators = cfg.test_evaluator
        evaluators = evaluators if isinstance(evaluators, list) else [
            evaluators
        ]
        cfg.test_evaluator = evaluators + [
            dict(type='DumpResults', out_file_path=args.out)
        ]
    prepare_config_assets(cfg)
    setup_distributed(cfg, args.launcher)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else \
        RUNNERS.get('PointHMRRunner').from_cfg(cfg)
    runner.test()


if __name__ == '__main__':
    main()
