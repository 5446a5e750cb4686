"""Recover 3D human meshes from images, a folder or a video
(``pointhmr_mm.apis.MeshInferencer`` on the command line).

    python tools/demo.py CONFIG CKPT INPUT [--out-dir DIR] [--bbox-file F]
        [--bbox-format xyxy|xywh] [--device cpu] [--batch-size 16] [--show]
        [--smpl-params]

Per image it writes ``<name>_overlay.jpg`` (meshes over the image),
``<name>_side.jpg`` (side view), ``<name>_person<k>.obj`` and
``<name>.json`` (vertices and 3D joints in metres, 2D joints in image
pixels, the weak-perspective camera and the box). A video gives
``<name>_overlay.mp4`` and ``<name>.npz`` with the same fields per person
and ``frame``/``person`` indices. ``--smpl-params`` also fits SMPL to each
mesh (``test_cfg.fit_smpl``) and writes ``<name>_smpl.npz`` in MMHuman3D's
layout (``smpl`` dict of ``global_orient``, ``body_pose``, ``betas``,
``transl``); the JSON/npz predictions then carry the ``smpl_*`` fields.
Images of one folder that share a name (``a.jpg``, ``a.png``) get
``a_jpg``/``a_png``; other files in a folder are skipped with a message.

Boxes: without ``--bbox-file`` the whole image is one person. The file is
JSON, either ``{"img.jpg": [[x1, y1, x2, y2], ...], "clip.mp4": {"0":
[[...]], ...}}`` (a video's boxes by frame index, or as a list per frame;
``--bbox-format xywh`` for corner + size boxes) or COCO style (``images``
with ``file_name``, ``annotations`` with ``bbox``, xywh).
"""
import argparse
from pathlib import Path

from mmengine.logging import print_log

from pointhmr_mm.apis import MeshInferencer, load_bbox_file
from pointhmr_mm.apis.inference import BBOX_FORMATS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('input', help='image, folder of images, or video')
    parser.add_argument('--out-dir', default='demo_out')
    parser.add_argument('--bbox-file', help='person boxes (JSON)')
    parser.add_argument('--bbox-format', default='xyxy',
                        choices=BBOX_FORMATS,
                        help='layout of the boxes in a non-COCO bbox file')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--show', action='store_true',
                        help='also show each overlay (needs a display)')
    parser.add_argument('--smpl-params', action='store_true',
                        help='fit SMPL parameters and write <name>_smpl.npz')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if not Path(args.input).exists():
        raise SystemExit(f'{args.input}: no such file or folder')
    try:
        boxes = None if args.bbox_file is None else load_bbox_file(
            args.bbox_file, args.bbox_format)
        inferencer = MeshInferencer(args.config, args.checkpoint,
                                    device=args.device,
                                    batch_size=args.batch_size,
                                    fit_smpl=args.smpl_params)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f'error: {err}') from None
    try:
        results = inferencer(args.input, bboxes=boxes, bbox_format='xyxy',
                             vis_out_dir=args.out_dir,
                             pred_out_dir=args.out_dir, show=args.show,
                             skip_errors=True,
                             smpl_out_dir=args.out_dir if args.smpl_params
                             else None)
    except (FileNotFoundError, RuntimeError) as err:
        raise SystemExit(f'error: {err}') from None
    done = len({r['name'] for r in results})
    total = done + len(inferencer.skipped)
    print_log(f'{done} of {total} inputs done; outputs in {args.out_dir}',
              logger='current')
    if done == 0:
        raise SystemExit(1)


if __name__ == '__main__':
    main()
