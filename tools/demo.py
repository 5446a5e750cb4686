"""Recover 3D human meshes from images, folders or videos
(``pointhmr_mm.apis.MeshInferencer`` on the command line).

    python tools/demo.py CONFIG CKPT INPUT [INPUT ...] [--out-dir DIR]
        [--bbox-file F [--bbox-format xyxy|xywh] [--strict-boxes]]
        [--det-weights PATH | --det-download [--det-model NAME]
         | --det-config C --det-checkpoint W] [--bbox-thr 0.5]
        [--nms-thr 0.3] [--focal-length PX] [--smpl-params]
        [--mesh-formats obj glb] [--draw-bbox] [--draw-keypoints]
        [--radius 3] [--thickness 2] [--alpha 0.8] [--smooth]
        [--device cpu] [--batch-size 16] [--show] [--cfg-options k=v]

Outputs go under ``--out-dir`` as mmpose's inferencer lays them out:
``vis/<name>_overlay.jpg`` (every person drawn into the full image with
the perspective camera), ``vis/<name>_side.jpg``, and
``predictions/<name>.json`` (person records; ``docs/inference.md``),
``predictions/<name>_person<k>.obj`` (and ``.glb``). A video gives
``vis/<name>_overlay.mp4`` and ``predictions/<name>.npz`` (per frame and
track id), and with ``--smpl-params`` ``<name>_track<id>.bvh``.
``--smpl-params`` fits SMPL to each mesh and writes ``<name>_smpl.npz`` in
MMHuman3D's layout, ``transl`` a camera translation. Names keep the path
relative to the inputs' common folder (``cam1/000001``).

Boxes, in order: ``--bbox-file`` (JSON ``{"img.jpg": [[x1, y1, x2, y2],
...], "clip.mp4": {"0": [[...]]}}`` or COCO), a person detector (mmdet's
``--det-config``/``--det-checkpoint``, or torchvision's ``--det-model``
from ``--det-weights`` or, opted in, ``--det-download``), else the whole
image is one person (a message says so). An input the box file lacks is
a warning, an error with ``--strict-boxes``.
"""
import argparse
import sys

from mmengine.config import DictAction
from mmengine.logging import print_log

from pointhmr_mm.apis import MeshInferencer, build_detector, load_bbox_file
from pointhmr_mm.apis.boxes import BBOX_FORMATS
from pointhmr_mm.apis.detectors import (DEFAULT_NMS_IOU, DEFAULT_SCORE_THR,
                                        TORCHVISION_DETECTORS)
from pointhmr_mm.apis.writers import MESH_FORMATS, check_writable

# what a user's mistake raises: printed as one line, exit status 1
USER_ERRORS = (ValueError, LookupError, OSError, RuntimeError, ImportError)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('inputs', nargs='+',
                        help='images, folders of images, or videos')
    parser.add_argument('--out-dir', default='demo_out')
    boxes = parser.add_argument_group('boxes')
    boxes.add_argument('--bbox-file', help='person boxes (JSON)')
    boxes.add_argument('--bbox-format', default='xyxy',
                       choices=BBOX_FORMATS,
                       help='layout of the boxes in a non-COCO bbox file')
    boxes.add_argument('--strict-boxes', action='store_true',
                       help='stop at an input the bbox file has no entry '
                       'for')
    det = parser.add_argument_group('person detector')
    det.add_argument('--det-config', help='mmdet config')
    det.add_argument('--det-checkpoint', help='mmdet checkpoint')
    det.add_argument('--det-model', choices=sorted(TORCHVISION_DETECTORS),
                     help='torchvision detector (default '
                     'fasterrcnn_resnet50_fpn_v2)')
    det.add_argument('--det-weights', help='its local weights file')
    det.add_argument('--det-download', action='store_true',
                     help='let torchvision download its COCO weights')
    det.add_argument('--bbox-thr', type=float, default=DEFAULT_SCORE_THR,
                     help='detector score threshold')
    det.add_argument('--nms-thr', type=float, default=DEFAULT_NMS_IOU,
                     help='NMS IoU threshold among people')
    draw = parser.add_argument_group('outputs')
    draw.add_argument('--focal-length', type=float,
                      help='pixels (default: EXIF, else the diagonal)')
    draw.add_argument('--smpl-params', action='store_true',
                      help='fit SMPL parameters and write <name>_smpl.npz')
    draw.add_argument('--mesh-formats', nargs='+', default=['obj'],
                      choices=MESH_FORMATS)
    draw.add_argument('--draw-bbox', action='store_true')
    draw.add_argument('--draw-keypoints', action='store_true')
    draw.add_argument('--radius', type=int, default=3)
    draw.add_argument('--thickness', type=int, default=2)
    draw.add_argument('--alpha', type=float, default=0.8)
    draw.add_argument('--smooth', action='store_true',
                      help='videos: One-Euro smoothing of each track')
    draw.add_argument('--show', action='store_true',
                      help='also show each overlay (needs a display)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides, key=value')
    return parser.parse_args(argv)


def build(args: argparse.Namespace):
    """The inferencer (with its detector) and the box file's boxes."""
    boxes = None if args.bbox_file is None else load_bbox_file(
        args.bbox_file, args.bbox_format)
    detector = build_detector(args.det_config, args.det_checkpoint,
                              args.det_model, args.det_weights,
                              args.det_download, args.bbox_thr,
                              args.nms_thr, args.device)
    inferencer = MeshInferencer(args.config, args.checkpoint,
                                device=args.device,
                                batch_size=args.batch_size,
                                fit_smpl=args.smpl_params,
                                cfg_options=args.cfg_options,
                                detector=detector)
    return inferencer, boxes


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        # probed before the model loads; nothing is created yet
        check_writable(args.out_dir, '--out-dir', create=False)
        inferencer, boxes = build(args)
        results = inferencer(
            args.inputs, bboxes=boxes, out_dir=args.out_dir,
            show=args.show, skip_errors=True, strict_boxes=args.strict_boxes,
            focal_length=args.focal_length, mesh_formats=args.mesh_formats,
            draw_bbox=args.draw_bbox, draw_keypoints=args.draw_keypoints,
            radius=args.radius, thickness=args.thickness, alpha=args.alpha,
            smooth=args.smooth)
        done = len({r['name'] for r in results})
    except USER_ERRORS as err:
        message = err.args[0] if isinstance(err, LookupError) and \
            err.args else err
        raise SystemExit(f'error: {message}') from None
    total = done + len(inferencer.skipped)
    print_log(f'{done} of {total} inputs done; outputs in {args.out_dir}',
              logger='current')
    return 0 if done else 1


if __name__ == '__main__':
    sys.exit(main())
