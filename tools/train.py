"""Train a PointHMR model with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR]
        [--resume [CKPT] | --load-from CKPT]
        [--amp | --no-amp]
        [--auto-scale-lr] [--no-validate] [--vis-backend tensorboard]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

Several processes: ``tools/dist_train.sh CONFIG N`` (torchrun; gloo on CPU)
or ``tools/slurm_train.sh``.
"""
import argparse
import os.path as osp

from mmengine.config import Config

from pointhmr_mm.engine.entry_points import (ConfigError, add_amp_args,
                                             add_common_args, apply_amp_args,
                                             apply_common_args,
                                             export_local_rank, run_tool)

AUTO_RESUME = 'auto'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a PointHMR model')
    parser.add_argument('config', help='train config file')
    add_common_args(parser)
    start = parser.add_mutually_exclusive_group()
    start.add_argument(
        '--resume', nargs='?', const=AUTO_RESUME, metavar='CKPT',
        help='resume from CKPT (weights, optimizer, schedule, epoch); '
        'without CKPT, from the latest checkpoint in the work dir')
    start.add_argument(
        '--load-from', metavar='CKPT',
        help='start a new schedule from the weights of CKPT (e.g. a '
        'tools/misc/publish_model.py output); loads strictly unless '
        '--cfg-options load_strict=False')
    add_amp_args(parser)
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by total batch size / the '
                        "config's auto_scale_lr.base_batch_size")
    parser.add_argument('--no-validate', action='store_true',
                        help='do not validate during training')
    args = parser.parse_args(argv)
    export_local_rank(args)
    if args.resume not in (None, AUTO_RESUME) and \
            not osp.isfile(args.resume):
        parser.error(f'--resume {args.resume}: no such checkpoint file')
    if args.load_from is not None and not osp.isfile(args.load_from):
        parser.error(f'--load-from {args.load_from}: no such checkpoint '
                     'file')
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Fold the command line into ``cfg`` (in place) and return it."""
    apply_common_args(cfg, args)
    apply_amp_args(cfg, args)
    if args.auto_scale_lr:
        if 'base_batch_size' not in (cfg.get('auto_scale_lr') or {}):
            raise ConfigError(
                f'--auto-scale-lr: {args.config} has no auto_scale_lr.'
                'base_batch_size (the total batch size its lr was tuned '
                'for); add e.g. auto_scale_lr = dict(base_batch_size=24) '
                'or pass --cfg-options auto_scale_lr.base_batch_size=N')
        cfg.auto_scale_lr.enable = True
    if args.no_validate:
        # mmengine's Runner skips validation when all three are None
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    if args.resume == AUTO_RESUME:
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    elif args.load_from is not None:
        cfg.resume, cfg.load_from = False, args.load_from
    return cfg


def main(argv=None) -> None:
    run_tool(parse_args(argv), merge_args, 'train')


if __name__ == '__main__':
    main()
