"""Train a PointHMR model with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi]

Several processes: ``tools/dist_train.sh CONFIG N`` (torchrun; gloo on CPU)
or ``tools/slurm_train.sh``.
"""
import argparse
import logging
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.device import get_device
from mmengine.dist import barrier, is_distributed, is_main_process
from mmengine.logging import print_log

from pointhmr_mm.engine import setup_distributed
from pointhmr_mm.engine.dist import LAUNCHERS
from pointhmr_mm.engine.runner import build_runner
from pointhmr_mm.utils import prepare_config_assets, register_all_modules

AUTO_RESUME = 'auto'
WORK_DIRS = './work_dirs'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a PointHMR model')
    parser.add_argument('config', help='train config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument(
        '--resume', nargs='?', const=AUTO_RESUME, metavar='CKPT',
        help='resume from CKPT; without CKPT, from the latest checkpoint in '
        'the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (needs a GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by total batch size / the '
                        "config's auto_scale_lr.base_batch_size")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--launcher', default='none', choices=LAUNCHERS)
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if args.resume not in (None, AUTO_RESUME) and \
            not osp.isfile(args.resume):
        parser.error(f'--resume {args.resume}: no such checkpoint file')
    if args.amp and get_device() == 'cpu':
        parser.error('--amp needs a GPU (mmengine\'s AmpOptimWrapper)')
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
    if args.amp:
        if cfg.optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print_log('AMP is already on in the config', logger='current',
                      level=logging.WARNING)
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise KeyError(f'--auto-scale-lr: {args.config} has no '
                           'auto_scale_lr.base_batch_size')
        cfg.auto_scale_lr.enable = True
    if args.resume == AUTO_RESUME:
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
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
    build_runner(cfg).train()


if __name__ == '__main__':
    main()
