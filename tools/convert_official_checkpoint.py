"""Convert a released PointHMR checkpoint to pointhmr_mm's layout.

    python tools/convert_official_checkpoint.py IN.bin OUT.pth \
        [--config configs/pointhmr_hrnet_w32.py]
    python tools/convert_official_checkpoint.py --backbone-only \
        pretrain_hrnet.pkl data/pretrained/hrnet_w32_romp.pth \
        [--config configs/pointhmr_hrnet_w32.py]

With ``--config`` the converted weights are also loaded strictly into the
model that the config builds, so every missing or unexpected key is named.
``--backbone-only`` converts ROMP's HRNet-W32 ``pretrain_hrnet.pkl`` (or
the backbone of a released checkpoint) into an mmpretrain ``HRNet``
checkpoint for the W32 recipe's ``init_cfg``; with ``--config`` it is
loaded into that config's backbone, where only the stage-4 fuse layers
ROMP's file lacks may stay unloaded.
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from pointhmr_mm.registry import MODELS
from pointhmr_mm.setup_env import register_all_modules
from pointhmr_mm.apis.official_checkpoint import convert_official_state_dict
from pointhmr_mm.apis.romp_backbone import (convert_romp_backbone,
                                            may_be_absent)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='released checkpoint')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument('--config', help='check by loading into this model')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing output file')
    parser.add_argument('--backbone-only', action='store_true',
                        help='convert an HRNet-W32 backbone (ROMP\'s '
                        'pretrain_hrnet.pkl) for the W32 init_cfg')
    return parser.parse_args()


def check_with_config(args, state) -> None:
    """Load ``state`` into the model (or, with ``--backbone-only``, the
    backbone) that ``args.config`` builds, naming every mismatch."""
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if not args.backbone_only:
        MODELS.build(cfg.model).load_state_dict(state, strict=True)
        print_log(f'loaded strictly into {args.config}', logger='current')
        return
    backbone = MODELS.build(cfg.model.backbone)
    result = backbone.load_state_dict(state, strict=False)
    bad = result.unexpected_keys + [
        k for k in result.missing_keys if not may_be_absent(k)]
    if bad:
        raise KeyError(f'the backbone of {args.config} does not take these '
                       f'keys: {bad[:5]}')
    print_log(f'loaded into the backbone of {args.config}; '
              f'{len(result.missing_keys)} keys keep their initialisation',
              logger='current')


def main():
    args = parse_args()
    if not osp.isfile(args.src):
        raise FileNotFoundError(f'{args.src}: no such checkpoint')
    if osp.abspath(args.src) == osp.abspath(args.dst):
        raise ValueError('the output must not overwrite the input checkpoint')
    if osp.exists(args.dst) and not args.overwrite:
        raise FileExistsError(f'{args.dst} exists; pass --overwrite')
    # Released checkpoints (and ROMP's pickled state dict) hold only
    # tensors, so safe loading suffices.
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=True)
    if args.backbone_only:
        state, absent, dropped = convert_romp_backbone(checkpoint)
        for key in dropped:
            print_log(f'not part of the backbone, dropped: {key}',
                      logger='current')
        print_log(f'{len(absent)} backbone keys are not in the file and '
                  'keep their initialisation (stage-4 fuse layers of a '
                  'single-scale stage 4)', logger='current')
    else:
        state, unused = convert_official_state_dict(checkpoint)
        for key in unused:
            print_log(f'not used by the released forward pass, dropped: '
                      f'{key}', logger='current')
    if args.config:
        check_with_config(args, state)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(state_dict=state,
                    meta=dict(converted_from=osp.basename(args.src))),
               args.dst)
    print_log(f'wrote {len(state)} tensors to {args.dst}', logger='current')


if __name__ == '__main__':
    main()
