"""Render a body model into a synthetic HumanData dataset.

    python tools/make_synthetic_dataset.py --body-model data/body_models \
        --out data/synthetic --num-train 500 --num-val 100
"""
import argparse

from pointhmr_mm.datasets.synthetic import write_split


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--body-model', required=True,
                        help='folder with smpl/SMPL_NEUTRAL.pkl and '
                        'J_regressor_h36m.npy')
    parser.add_argument('--out', required=True)
    parser.add_argument('--num-train', type=int, default=500)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--image-size', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args()
    for split, num, seed in (('train', args.num_train, args.seed),
                             ('val', args.num_val, args.seed + 1)):
        path = write_split(args.out, split, num, args.body_model,
                           args.image_size, seed, args.overwrite)
        print(f'wrote {path}')


if __name__ == '__main__':
    main()
