"""Build a coarse-to-fine mesh hierarchy for a body model.

    python tools/build_mesh_sampler.py data/body_models/smpl \
        --levels 1723 431 -o data/body_models/mesh_downsampling.npz

BODY_MODEL is any path the SMPL loader accepts (a file or a folder). The
output uses GraphCMR's npz layout, so it loads like the file METRO ships.
"""
import argparse
import os.path as osp

from mmengine.logging import print_log

from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.models.utils import build_mesh_sampler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('body_model', help='SMPL-format file or folder')
    parser.add_argument('--levels', type=int, nargs='+', required=True,
                        help='vertex counts of the coarser levels')
    parser.add_argument('-o', '--out', required=True, help='output .npz')
    parser.add_argument('--gender', default='neutral')
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args()
    if osp.exists(args.out) and not args.overwrite:
        raise FileExistsError(f'{args.out} exists; pass --overwrite')
    body = SMPL(args.body_model, gender=args.gender)
    print_log(f'{body.model_file}: {body.num_vertices} vertices; building '
              f'levels {args.levels}', logger='current')
    sampler = build_mesh_sampler(body.v_template.numpy(), body.faces.numpy(),
                                 args.levels)
    sampler.save(args.out)
    print_log(f'wrote {args.out} with levels {sampler.num_vertices}',
              logger='current')


if __name__ == '__main__':
    main()
