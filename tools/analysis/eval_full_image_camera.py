"""How well the full-image camera places people: translation and 2D
reprojection errors against the synthetic generator's true camera.

    python tools/analysis/eval_full_image_camera.py CONFIG CKPT
        [--max-images N] [--cfg-options k=v ...]

Runs ``inference_mesh`` on the config's test split (held-out synthetic
images, rendered by ``pointhmr_mm.synthetic`` with a pinhole camera of
focal ``FOCAL_PER_SIDE * side`` pixels, principal point at the centre;
the labels are its camera-frame LSP-14 joints in metres and their
projections in pixels). Each person's crop is the dataset's (its box,
``bbox_scale`` included). The crop camera is turned into a full-image
translation twice: with the true focal length and with the default
diagonal rule (``sqrt(w^2 + h^2)``, what a photo without EXIF gets).
Printed per focal length, over all images (mean and median):

* root translation error (m): predicted mid-hip (mesh joints +
  ``cam_t_full``) vs the true mid-hip, and its depth (z) part;
* reprojection error (px): the predicted camera-frame mesh joints
  projected with that focal length vs the true 2D joints;
* for reference, the crop camera's own reprojection error (px), which no
  focal length changes.
"""
import argparse
import json
import sys

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction

from pointhmr_mm.apis import inference_mesh, init_model
from pointhmr_mm.apis.inference import BBOX_PADDING, build_test_pipeline
from pointhmr_mm.apis.records import person_record
from pointhmr_mm.registry import DATASETS
from pointhmr_mm.synthetic.camera import FOCAL_PER_SIDE
from pointhmr_mm.utils.image_io import read_image
from pointhmr_mm.visualization.camera import (perspective_to_screen,
                                              weak_perspective_to_screen)

HIPS = (2, 3)  # LSP-14 right and left hip


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--max-images', type=int,
                        help='first N images of the split')
    parser.add_argument('--out-json', help='also write the numbers here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides, e.g. absolute data paths')
    return parser.parse_args(argv)


def person_errors(record: dict, info: dict, focal: float,
                  image_hw) -> dict:
    """Errors of one person against its labels."""
    height, width = image_hw
    true_3d, true_2d = info['keypoints_3d'][:, :3], info['keypoints_2d']
    seen = true_2d[:, 2] > 0
    root = record['mesh_keypoints_3d_cam'][list(HIPS)].mean(0)
    true_root = true_3d[list(HIPS)].mean(0)
    full = perspective_to_screen(record['mesh_keypoints_3d_cam'],
                                 (focal, focal),
                                 (width / 2., height / 2.))[:, :2]
    return dict(
        transl_m=float(np.linalg.norm(root - true_root)),
        depth_m=float(abs(root[2] - true_root[2])),
        reproj_px=float(np.linalg.norm(full - true_2d[:, :2],
                                       axis=1)[seen].mean()))


def crop_reprojection(sample, info: dict) -> float:
    """Mean pixel error of the crop camera's own projection of the mesh
    joints (weak perspective, mapped back to the image)."""
    joints = person_record(sample)['mesh_keypoints_3d']
    to_image = cv2.invertAffineTransform(np.asarray(sample.crop_matrix))
    xy = weak_perspective_to_screen(joints, sample.pred_camera.numpy(),
                                    sample.img_shape[0], to_image)[:, :2]
    true_2d = info['keypoints_2d']
    seen = true_2d[:, 2] > 0
    return float(np.linalg.norm(xy - true_2d[:, :2], axis=1)[seen].mean())


def evaluate(model, dataset, count: int) -> dict:
    """Per focal rule, the list of per-person error dicts."""
    pipeline = build_test_pipeline(model)
    rows = dict(true=[], diagonal=[])
    crop_errors = []
    for index in range(count):
        info = dataset.get_data_info(index)
        image = read_image(info['img_path'])
        height, width = image.shape[:2]
        # the dataset's square crop; inference_mesh pads a box by
        # BBOX_PADDING, so hand it the unpadded square
        half = info['bbox_size'] / BBOX_PADDING / 2.
        box = np.concatenate([info['bbox_center'] - half,
                              info['bbox_center'] + half])[None]
        for rule, focal in (('true', FOCAL_PER_SIDE * width),
                            ('diagonal', None)):
            sample = inference_mesh(model, image, box, focal_length=focal,
                                    pipeline=pipeline)[0]
            rows[rule].append(person_errors(
                person_record(sample), info, sample.focal_length,
                (height, width)))
        crop_errors.append(crop_reprojection(sample, info))
    return dict(rows=rows, crop_reproj_px=crop_errors)


def summary(result: dict) -> dict:
    out = {}
    for rule, rows in result['rows'].items():
        for key in rows[0]:
            values = np.array([r[key] for r in rows])
            out[f'{rule}_focal/{key}_mean'] = float(values.mean())
            out[f'{rule}_focal/{key}_median'] = float(np.median(values))
    crop = np.array(result['crop_reproj_px'])
    out['crop_camera/reproj_px_mean'] = float(crop.mean())
    out['crop_camera/reproj_px_median'] = float(np.median(crop))
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    model = init_model(cfg, args.checkpoint, cfg_options=args.cfg_options)
    loader = model.cfg.get('test_dataloader') or {}
    if 'dataset' not in loader:
        raise SystemExit(f'error: {args.config} has no test_dataloader')
    dataset = DATASETS.build(dict(loader['dataset'], pipeline=[]))
    count = len(dataset) if args.max_images is None else min(
        len(dataset), args.max_images)
    with torch.no_grad():
        numbers = summary(evaluate(model, dataset, count))
    numbers['images'] = count
    for key, value in numbers.items():
        print(f'{key}: {value:.4f}' if isinstance(value, float) else
              f'{key}: {value}')
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(numbers, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
