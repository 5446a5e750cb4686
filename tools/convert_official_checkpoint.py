"""Convert a released PointHMR checkpoint to pointhmr_mm's layout.

    python tools/convert_official_checkpoint.py IN.bin OUT.pth \
        [--config configs/pointhmr_hrnet_w32.py]

With ``--config`` the converted weights are also loaded strictly into the
model that the config builds, so every missing or unexpected key is named.
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


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='released checkpoint')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument('--config', help='check by loading into this model')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing output file')
    return parser.parse_args()


def main():
    args = parse_args()
    if not osp.isfile(args.src):
        raise FileNotFoundError(f'{args.src}: no such checkpoint')
    if osp.abspath(args.src) == osp.abspath(args.dst):
        raise ValueError('the output must not overwrite the input checkpoint')
    if osp.exists(args.dst) and not args.overwrite:
        raise FileExistsError(f'{args.dst} exists; pass --overwrite')
    # Released checkpoints hold only tensors, so safe loading suffices.
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=True)
    state, unused = convert_official_state_dict(checkpoint)
    for key in unused:
        print_log(f'not used by the released forward pass, dropped: {key}',
                  logger='current')
    if args.config:
        register_all_modules()
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        model = MODELS.build(cfg.model)
        model.load_state_dict(state, strict=True)
        print_log(f'loaded strictly into {args.config}', logger='current')
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(state_dict=state,
                    meta=dict(converted_from=osp.basename(args.src))),
               args.dst)
    print_log(f'wrote {len(state)} tensors to {args.dst}', logger='current')


if __name__ == '__main__':
    main()
