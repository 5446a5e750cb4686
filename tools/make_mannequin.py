"""Generate the mannequin body model (an SMPL-format stand-in).

    python tools/make_mannequin.py data/body_models [--num-vertices 3000]

Writes ``smpl/SMPL_{NEUTRAL,MALE,FEMALE}.pkl``, ``J_regressor_h36m.npy``
and ``J_regressor_extra.npy`` under the output folder; refuses to replace
existing files unless ``--overwrite`` is given.
"""
import argparse
import logging
import sys

from mmengine.logging import print_log

from pointhmr_mm.models.body_models.mannequin import make_mannequin_files


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', help='output folder (data/body_models layout)')
    parser.add_argument('--num-vertices', type=int, default=3000,
                        help='target vertex count of the mesh')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the small proportion jitter')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing model files')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        paths = make_mannequin_files(args.out, args.num_vertices, args.seed,
                                     overwrite=args.overwrite)
    except (FileExistsError, ValueError) as err:
        print_log(f'make_mannequin: {err}', logger='current', level=logging.ERROR)
        return 1
    for name, path in paths.items():
        print_log(f'{name}: {path}', logger='current')
    return 0


if __name__ == '__main__':
    sys.exit(main())
