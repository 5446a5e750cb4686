"""Train a PointHMR model with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
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
    parser = argparse.ArgumentParser(description='Train PointHMR')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CKPT, or without a value from the latest '
        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr with the total batch size')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, key=value')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg, args):
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume {args.resume}: no such file')
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def main():
    args = parse_args()
    register_all_modules()
    cfg = merge_args(Config.fromfile(args.config), args)
    prepare_config_assets(cfg)
    setup_distributed(cfg, args.launcher)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else \
        RUNNERS.get('PointHMRRunner').from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
