"""Generate the mannequin body model (an SMPL-format stand-in).

    python tools/make_mannequin.py data/body_models [--num-vertices 3000]
"""
import argparse

from mmengine.logging import print_log

from pointhmr_mm.models.body_models.mannequin import make_mannequin_files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('out', help='output folder (data/body_models layout)')
    parser.add_argument('--num-vertices', type=int, default=3000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args()
    paths = make_mannequin_files(args.out, args.num_vertices, args.seed,
                                 overwrite=args.overwrite)
    for name, path in paths.items():
        print_log(f'{name}: {path}', logger='current')


if __name__ == '__main__':
    main()
