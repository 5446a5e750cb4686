"""Generate a licence-free body model in SMPL's format from Anny.

    python tools/make_body_model.py --from anny data/body_models [--seed 0]

Writes, under the output folder (MMHuman3D's layout):
``smpl/SMPL_{NEUTRAL,MALE,FEMALE}.pkl`` (or ``.npz`` with ``--format
npz``), ``J_regressor_h36m.npy``, ``J_regressor_extra.npy`` (LSP-14),
``J_regressor_coco.npy``, ``body_parts.npz``, ``mesh_downsampling.npz``
(6890 -> 1723 -> 431 by default) and ``anny_body.json``. Needs the
optional ``anny`` package (``pip install -e '.[anny]'``); makes no network
access. Anny's first build of a topology takes about a minute and 2 GB
(cached in ``ANNY_CACHE_DIR``, default ``~/.cache/anny``). Refuses to
replace existing files unless ``--overwrite`` is given.
"""
import argparse
import logging
import sys

from mmengine.logging import print_log

SOURCES = ('anny', )


def parse_args(argv=None):
    from pointhmr_mm.models.body_models.anny import export, source
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--from', dest='source', required=True,
                        choices=SOURCES, help='the parametric body to bake')
    parser.add_argument('out', help='output folder (data/body_models layout)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the sampled phenotypes (shape space)')
    parser.add_argument('--topology', default=source.TOPOLOGIES[0],
                        choices=source.TOPOLOGIES,
                        help="Anny's mesh before decimation")
    parser.add_argument('--num-vertices', type=int,
                        default=export.SMPL_VERTICES,
                        help='vertices of the baked body (SMPL: 6890)')
    parser.add_argument('--levels', type=int, nargs='+',
                        default=list(export.SMPL_LEVELS),
                        help='coarser levels of mesh_downsampling.npz')
    parser.add_argument('--samples', type=int, default=export.NUM_SAMPLES,
                        help='phenotypes sampled per gender for the PCA')
    parser.add_argument('--format', default='pkl', choices=export.FORMATS,
                        help='pkl (smplx.SMPL reads it by path; ~21 MB a '
                        'gender) or npz (compressed, ~2 MB a gender)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing model files')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from pointhmr_mm.models.body_models.anny import make_anny_body_files
    try:
        paths = make_anny_body_files(
            args.out, seed=args.seed, topology=args.topology,
            num_vertices=args.num_vertices, levels=args.levels,
            num_samples=args.samples, file_format=args.format,
            overwrite=args.overwrite, progress=True)
    except (FileExistsError, ValueError, ImportError, RuntimeError) as err:
        print_log(f'make_body_model: {err}', logger='current',
                  level=logging.ERROR)
        return 1
    for name, path in paths.items():
        print_log(f'{name}: {path}', logger='current')
    return 0


if __name__ == '__main__':
    sys.exit(main())
