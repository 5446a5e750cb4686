"""Look at what a config's data pipeline feeds the model: each augmented
crop with its 2D keypoints and its GT mesh drawn over it.

    python tools/misc/browse_dataset.py CONFIG [--phase train|val|test]
        [--output-dir DIR] [--show-interval 2] [--not-show]
        [--max-samples N] [--cfg-options k=v ...]

Per sample: ``[crop + GT 2D keypoints | crop + GT mesh | side view]``,
drawn by ``MeshVisualizer``. The
GT mesh is what the losses compare with: ``MeshTargets.gt_meshes``
(pelvis-centred SMPL of the sample's pose and shape). A weak-perspective
camera fitted to the sample's 2D keypoints puts it over the crop. Samples
without an SMPL label show their keypoints only. Pictures go to
``--output-dir`` as ``<index>_<image name>.jpg`` and/or to a window (where
there is a display).
"""
import argparse
import os.path as osp
from typing import Optional

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.structures import BaseDataElement
from mmengine.utils import ProgressBar, mkdir_or_exist

from pointhmr_mm.engine.entry_points import ConfigError, merge_cfg_options
from pointhmr_mm.registry import DATASETS, MODELS
from pointhmr_mm.setup_env import register_all_modules
from pointhmr_mm.synthetic.quickstart import prepare_config_assets
from pointhmr_mm.visualization import (MeshVisualizer, draw_keypoints_2d,
                                       has_display, show_image)

MIN_PANEL = 256  # small crops are enlarged to this side for viewing
MIN_FIT_JOINTS = 2  # a scale and a 2D shift need two labelled joints


def fit_weak_perspective(joints_3d: np.ndarray, keypoints_2d: np.ndarray
                         ) -> Optional[np.ndarray]:
    """Camera (s, tx, ty) with ``s * (X_xy + t)`` closest to the labelled
    2D keypoints (least squares, confidence-weighted).

    The data carry no camera (the model predicts one), so one is fitted
    here just to draw the GT mesh; with ``u = s t`` the projection is
    linear in (s, u_x, u_y).

    Args:
        joints_3d: (J, 3) joints of the GT mesh, metres.
        keypoints_2d: (J, 3) normalised xy in [-1, 1] + confidence.

    Returns:
        (3, ) camera, or None with fewer than two labelled joints.
    """
    conf = keypoints_2d[:, 2]
    if (conf > 0).sum() < MIN_FIT_JOINTS:
        return None
    rows, targets, weights = [], [], []
    for axis in (0, 1):
        shift = np.zeros((len(conf), 2))
        shift[:, axis] = 1.
        rows.append(np.concatenate([joints_3d[:, axis:axis + 1], shift], 1))
        targets.append(keypoints_2d[:, axis])
        weights.append(np.sqrt(conf))
    a = np.concatenate(rows) * np.concatenate(weights)[:, None]
    b = np.concatenate(targets) * np.concatenate(weights)
    scale, u_x, u_y = np.linalg.lstsq(a, b, rcond=None)[0]
    if abs(scale) < 1e-8:
        return None
    return np.array([scale, u_x / scale, u_y / scale])


def draw_sample(model, visualizer: MeshVisualizer, item: dict,
                panel: int) -> np.ndarray:
    """``[crop + GT keypoints | crop + GT mesh + GT keypoints | side
    view]`` of one pipeline output (BGR uint8), drawn by the project's
    ``MeshVisualizer``."""
    sample = item['data_samples']
    crop = item['inputs'].numpy().transpose(1, 2, 0)  # (3,S,S) -> (S,S,3)
    # MeshPixelNoise leaves float pixels in [0, 255]; drawing needs uint8
    crop = np.clip(crop, 0, 255).astype(np.uint8)
    crop = cv2.resize(np.ascontiguousarray(crop), (panel, panel),
                      interpolation=cv2.INTER_LINEAR)
    keypoints = sample.gt_keypoints_2d.numpy()
    shown = BaseDataElement(gt_keypoints_2d=keypoints)
    if float(sample.has_smpl) > 0:
        gender = sample.metainfo.get('gender', 'neutral')
        if gender not in model.mesh_targets.genders:
            gender = 'neutral'
        with torch.no_grad():
            levels, _ = model.mesh_targets.gt_meshes(
                sample.gt_pose[None], sample.gt_betas[None], [gender])
            verts = levels[-1]
            joints = model.mesh_targets.regress_j14(verts)[0].numpy()
        shown.gt_vertices = verts[0].numpy()
        camera = fit_weak_perspective(joints, keypoints)
        if camera is not None:
            shown.gt_camera = camera
    # the visualizer takes RGB (mmengine's convention) and returns RGB;
    # it has no vis backend here, so it only draws
    drawn = visualizer.add_datasample('sample', crop[..., ::-1], shown,
                                      draw_gt=True, draw_pred=False)
    return np.concatenate([draw_keypoints_2d(crop, keypoints),
                           drawn[..., ::-1]], axis=1)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--phase', default='train',
                        choices=('train', 'val', 'test'))
    parser.add_argument('--output-dir', help='write the pictures here')
    parser.add_argument('--not-show', action='store_true',
                        help='do not open a window')
    parser.add_argument('--show-interval', type=float, default=2.,
                        help='seconds each picture is shown')
    parser.add_argument('--max-samples', type=int,
                        help='stop after this many samples')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    args.show = not args.not_show and has_display()
    if not args.show and args.output_dir is None:
        parser.error('nothing to do: there is no display (or --not-show) '
                     'and no --output-dir')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    try:
        merge_cfg_options(cfg, args.cfg_options or {})
    except ConfigError as err:
        raise SystemExit(f'error: {err}') from None
    loader = cfg.get(f'{args.phase}_dataloader')
    if not loader or 'dataset' not in loader:
        raise SystemExit(f'error: {args.config} has no '
                         f'{args.phase}_dataloader.dataset')
    prepare_config_assets(cfg)  # the quick start's data, if absent
    dataset = DATASETS.build(loader.dataset)
    model = MODELS.build(cfg.model).eval()
    total = len(dataset) if args.max_samples is None else min(
        len(dataset), args.max_samples)
    if args.output_dir:
        mkdir_or_exist(args.output_dir)
    visualizer = MeshVisualizer(
        name='browse_dataset', faces=model.body_model.faces.cpu().numpy())
    progress = ProgressBar(total)
    for index in range(total):
        item = dataset[index]
        panel = max(MIN_PANEL, item['inputs'].shape[-1])
        picture = draw_sample(model, visualizer, item, panel)
        name = osp.splitext(osp.basename(
            item['data_samples'].metainfo.get('img_path', 'sample')))[0]
        if args.output_dir:
            cv2.imwrite(osp.join(args.output_dir, f'{index:05d}_{name}.jpg'),
                        picture)
        if args.show:
            show_image(picture, f'{args.phase} {index}: {name}',
                       args.show_interval)
        progress.update()


if __name__ == '__main__':
    main()
