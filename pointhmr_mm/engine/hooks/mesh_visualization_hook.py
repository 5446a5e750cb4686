"""Draw predicted meshes (and vertex heatmaps) during validation and
testing, in the manner of mmpose's PoseVisualizationHook."""
import os.path as osp
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.utils import mkdir_or_exist

from pointhmr_mm.registry import HOOKS
from pointhmr_mm.visualization.mesh_visualizer import (MeshVisualizer,
                                                       draw_mesh_prediction)


@HOOKS.register_module()
class MeshVisualizationHook(Hook):
    """Draw the first ``max_samples`` images of a validation (or test) run.

    The pictures go to the runner's visualizer (so to each vis backend:
    the work dir's ``vis_data``, TensorBoard, ...), or to files under
    ``out_dir`` when given. A :class:`MeshVisualizer` draws them; a plain
    mmengine ``Visualizer`` only records them.

    Args:
        enable: Draw at all.
        interval: Draw during every ``interval``-th validation run (test
            runs always draw).
        max_samples: Images per run, taken from the first batches; None
            draws every sample that ``sample_interval`` picks.
        sample_interval: Draw every ``sample_interval``-th sample of a run
            (``tools/test.py --interval``).
        out_dir: Write image files here instead (relative paths are under
            the runner's ``work_dir``).
        faces: (F, 3) mesh faces; by default the visualizer's, else the
            model's ``body_model.faces``.
        draw_gt: Also draw ground truth (keypoints, GT mesh).
        show: Also show each picture in a window (needs a display).
        wait_time: Seconds each shown window waits.
    """
    priority = 'NORMAL'

    def __init__(self,
                 enable: bool = True,
                 interval: int = 1,
                 max_samples: Optional[int] = 4,
                 out_dir: Optional[str] = None,
                 faces: Optional[Sequence] = None,
                 draw_gt: bool = True,
                 sample_interval: int = 1,
                 show: bool = False,
                 wait_time: float = 0.):
        if interval < 1 or sample_interval < 1 or (max_samples is not None
                                                   and max_samples < 0):
            raise ValueError(f'MeshVisualizationHook needs interval >= 1, '
                             f'sample_interval >= 1 and max_samples >= 0 '
                             f'(or None), got {interval}, {sample_interval},'
                             f' {max_samples}')
        if max_samples is None:
            max_samples = float('inf')
        self.sample_interval, self.show = sample_interval, show
        self.wait_time = wait_time
        self._seen = 0
        self.enable, self.interval = enable, interval
        self.max_samples, self.out_dir = max_samples, out_dir
        self.faces = None if faces is None else np.asarray(faces)
        self.draw_gt = draw_gt
        self._val_runs = 0
        self._active = False
        self._drawn = 0
        self._told_plain = False

    def _faces(self, runner) -> np.ndarray:
        vis = runner.visualizer
        if self.faces is not None:
            return self.faces
        if isinstance(vis, MeshVisualizer) and vis.faces is not None:
            return vis.faces
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        faces = getattr(getattr(model, 'body_model', None), 'faces', None)
        if faces is None:
            raise ValueError(
                'MeshVisualizationHook needs mesh faces: pass faces=, give '
                'the visualizer faces, or use a model with body_model.faces')
        return faces.detach().cpu().numpy() if hasattr(
            faces, 'detach') else np.asarray(faces)

    def before_val_epoch(self, runner) -> None:
        self._val_runs += 1
        self._start(runner, (self._val_runs - 1) % self.interval == 0)

    def before_test_epoch(self, runner) -> None:
        self._start(runner, True)

    def _start(self, runner, due: bool) -> None:
        self._active = self.enable and due and self.max_samples > 0
        self._drawn = self._seen = 0
        if self._active and isinstance(runner.visualizer, MeshVisualizer):
            runner.visualizer.set_faces(self._faces(runner))

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence) -> None:
        self._draw(runner, data_batch, outputs, 'val')

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence) -> None:
        self._draw(runner, data_batch, outputs, 'test')

    def _draw(self, runner, data_batch: dict, outputs: Sequence,
              tag: str) -> None:
        if not self._active or self._drawn >= self.max_samples:
            return
        if 'inputs' not in data_batch:
            raise KeyError('MeshVisualizationHook needs data_batch["inputs"]'
                           ' (uint8 (3, H, W) BGR crops)')
        for inputs, sample in zip(data_batch['inputs'], outputs):
            if self._drawn >= self.max_samples:
                break
            self._seen += 1
            if (self._seen - 1) % self.sample_interval:
                continue
            # (3, H, W) BGR uint8 -> (H, W, 3) RGB, mmengine's convention
            image = inputs.detach().cpu().numpy().transpose(1, 2, 0)
            self._draw_one(runner, np.ascontiguousarray(image[..., ::-1]),
                           sample, f'{tag}_mesh_{self._seen - 1}')
            self._drawn += 1

    def _draw_one(self, runner, image_rgb: np.ndarray, sample,
                  name: str) -> None:
        vis, step = runner.visualizer, runner.iter
        out_file = None
        if self.out_dir is not None:
            out_dir = osp.join(runner.work_dir, self.out_dir)
            mkdir_or_exist(out_dir)
            out_file = osp.join(out_dir, f'{name}_{step}.png')
        if isinstance(vis, MeshVisualizer):
            vis.add_datasample(name, image_rgb, sample, draw_gt=self.draw_gt,
                               show=self.show, wait_time=self.wait_time,
                               out_file=out_file, step=step)
            return
        if not self._told_plain:
            self._told_plain = True
            print_log(f'{type(vis).__name__} is not a MeshVisualizer; '
                      'MeshVisualizationHook draws and the visualizer only '
                      'records', logger='current')
        drawn = draw_mesh_prediction(image_rgb[..., ::-1].copy(), sample,
                                     self._faces(runner),
                                     draw_gt=self.draw_gt)
        if out_file is not None:
            mmcv.imwrite(drawn, out_file)
        else:
            vis.add_image(name, np.ascontiguousarray(drawn[..., ::-1]), step)
