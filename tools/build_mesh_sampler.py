"""Build a coarse-to-fine mesh hierarchy for a body model.

    python tools/build_mesh_sampler.py data/body_models/smpl \
        --levels 1723 431 -o data/body_models/mesh_downsampling.npz

BODY_MODEL is any path the SMPL loader accepts (a file or a folder). The
output uses GraphCMR's npz layout, so it loads like the file METRO ships.
The vertex counts in --levels are met exactly.
"""
import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from mmengine.logging import print_log

from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.models.utils import build_mesh_sampler


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Build a mesh hierarchy (mesh_downsampling.npz) for a '
        'body model.')
    parser.add_argument('body_model', help='SMPL-format file or folder')
    parser.add_argument('--levels', type=int, nargs='+', required=True,
                        help='exact vertex counts of the coarser levels, '
                        'decreasing (SMPL: 1723 431)')
    parser.add_argument('-o', '--out', required=True, help='output .npz')
    parser.add_argument('--gender', default='neutral',
                        help='which model file of a folder to use')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace OUT if it exists')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    # Refuse before any work, so a long build never ends in a refusal.
    if out.exists() and not args.overwrite:
        print(f'{out} exists; pass --overwrite to replace it',
              file=sys.stderr)
        return 1
    if not out.parent.is_dir():
        print(f'{out.parent}: no such folder', file=sys.stderr)
        return 1
    body = SMPL(args.body_model, gender=args.gender)
    print_log(f'{body.model_file}: {body.num_vertices} vertices; building '
              f'levels {args.levels}', logger='current')
    sampler = build_mesh_sampler(body.v_template.numpy(), body.faces.numpy(),
                                 args.levels, progress=True)
    sampler.save(out)
    print_log(f'wrote {out} with levels {sampler.num_vertices}',
              logger='current')
    return 0


if __name__ == '__main__':
    sys.exit(main())
