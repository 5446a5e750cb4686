"""One object for inference on any input, in the manner of mmpose's
``MMPoseInferencer``: image paths, folders, arrays and videos in; results
yielded per input, pictures and prediction files out.

Shape shorthand: P people in an image, N full-mesh vertices.
"""
import logging
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.logging import print_log
from tqdm import tqdm

from pointhmr_mm.utils.image_io import read_image
from pointhmr_mm.visualization import (MeshVisualizer, draw_side_view,
                                       has_display, person_colors,
                                       show_image)
from .boxes import MissingBoxesError, boxes_for, check_boxes, to_xyxy
from .focal_length import log_focal, resolve_focal
from .inference import (add_full_image_camera, build_test_pipeline,
                        crop_items, init_model, run_batches)
from .options import InferenceOptions
from .records import (SMPL_PREFIX, VIDEO_EXTS, collect_inputs,
                      output_names, person_record)
from .video_inference import run_video
from .writers import (write_image, write_image_predictions, write_meshes,
                      write_smpl)

SIDE_PANEL = 512

InputLike = Union[str, Path, np.ndarray]


class MeshInferencer:
    """Build a model once and run it on images, folders, arrays or videos.

    Args:
        config: Config file or object.
        checkpoint: Checkpoint file (URLs are refused: nothing is
            downloaded); None keeps random weights.
        device: 'cpu', 'cuda', ...
        batch_size: Crops per forward pass (crops of several images, or
            of several video frames, share a pass).
        fit_smpl: Also fit SMPL parameters to each mesh
            (``test_cfg.fit_smpl``; ``smpl_*`` record fields).
        cfg_options: Config overrides.
        fuse_conv_bn: Fold the batch norms into the convolutions
            (``PointHMR.fuse_conv_bn``, about 10% faster; outputs equal
            to float rounding).
        detector: Person detector (``pointhmr_mm.apis.detectors``; any
            callable BGR image -> (P, 5) xyxy + score) for inputs without
            boxes; None: such an input is one whole-image person.
        strict: Refuse a checkpoint that does not fit the model.

    Example:
        >>> inferencer = MeshInferencer('configs/quickstart/'
        ...     'pointhmr_quickstart.py', 'work_dirs/x/epoch_4.pth')
        >>> for result in inferencer('photos/', out_dir='out'):
        ...     print(result['name'], len(result['predictions']))
    """

    def __init__(self, config, checkpoint: Optional[str] = None,
                 device: str = 'cpu', batch_size: int = 16,
                 fit_smpl: bool = False,
                 cfg_options: Optional[dict] = None,
                 fuse_conv_bn: bool = True, detector=None,
                 strict: bool = True):
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.model = init_model(config, checkpoint, device, cfg_options,
                                fuse_conv_bn=fuse_conv_bn, strict=strict)
        self.fit_smpl = fit_smpl
        if fit_smpl:
            self.model.test_cfg = dict(self.model.test_cfg or {},
                                       fit_smpl=True)
        self.pipeline = build_test_pipeline(self.model)
        self.batch_size = batch_size
        self.detector = detector
        self.skipped: List[Tuple[str, str]] = []
        self.faces = self.model.body_model.faces.cpu().numpy()
        self.visualizer = MeshVisualizer(name=f'mesh_inferencer_{id(self)}',
                                         faces=self.faces)

    # ------------------------------------------------------------------ #
    def predict_many(self, jobs: Sequence[dict],
                     batch_size: Optional[int] = None) -> List[List[dict]]:
        """Person records of several images in shared forward passes.

        Args:
            jobs: Per image ``image`` (H, W, 3) BGR, ``boxes`` ((P, 4)
                checked xyxy or None for the whole image), ``focal``
                (pixels) and ``name``.
            batch_size: Crops a pass; None: the inferencer's.

        Returns:
            list: Per image, its person records (:func:`person_record`).
        """
        items, owner = [], []
        for k, job in enumerate(jobs):
            crops = crop_items(job['image'], job['boxes'], self.pipeline,
                               job['name'])
            items.extend(crops)
            owner.extend([k] * len(crops))
        samples = run_batches(self.model, items,
                              batch_size or self.batch_size)
        if self.fit_smpl and samples and not any(
                k.startswith(SMPL_PREFIX) for k in samples[0].keys()):
            raise RuntimeError(
                f'fit_smpl=True, but {type(self.model).__name__} gave no '
                f'{SMPL_PREFIX}* fields (its test_cfg.fit_smpl is unknown)')
        out = []
        for k, job in enumerate(jobs):
            mine = [s for s, o in zip(samples, owner) if o == k]
            add_full_image_camera(mine, job['image'].shape[:2], job['focal'])
            out.append([person_record(s) for s in mine])
        return out

    def predict(self, image: np.ndarray, bboxes=None,
                bbox_format: str = 'xyxy', name: str = 'image',
                focal_length: Optional[float] = None) -> List[dict]:
        """Person records of one BGR image; boxes without area or outside
        the image are dropped with a warning; no boxes: the whole
        image."""
        boxes = None
        if bboxes is not None and len(bboxes):
            boxes = check_boxes(to_xyxy(bboxes, bbox_format), image.shape,
                                name, drop_bad=True)
        focal, _ = resolve_focal(*image.shape[:2], focal_length)
        return self.predict_many([dict(image=image, boxes=boxes,
                                       focal=focal, name=name)])[0]

    def draw(self, image: np.ndarray, people: List[dict], focal: float,
             options: Optional[InferenceOptions] = None) -> np.ndarray:
        """Every person over the full image (BGR), with the perspective
        camera of ``focal`` and one z-buffer (``MeshVisualizer``)."""
        opts = options or InferenceOptions()
        return self.visualizer.add_people(
            'inference', image, people, focal, draw_bbox=opts.draw_bbox,
            draw_keypoints=opts.draw_keypoints, radius=opts.radius,
            thickness=opts.thickness, alpha=opts.alpha)

    # ------------------------------------------------------------------ #
    def __call__(self, inputs: Union[InputLike, Sequence[InputLike]],
                 return_list: bool = False, bboxes=None,
                 **kwargs) -> Union[Iterator[dict], List[dict]]:
        """Run on ``inputs``, yielding one result per image or frame.

        Args:
            inputs: An image or video path, a folder, a BGR (H, W, 3)
                uint8 array, or a list of these.
            return_list: Return a list instead of a generator.
            bboxes: Person boxes: for one image or array, (P, 4) or (P, 5)
                boxes; otherwise a dict by file as :func:`load_bbox_file`
                returns (videos: by frame). None: the detector's boxes, or
                the whole image.
            **kwargs: :class:`~.options.InferenceOptions` fields
                (``out_dir``, ``batch_size``, ``show``, ``return_vis``,
                ``draw_bbox``, ``radius``, ``focal_length``, ...).

        Returns:
            Generator (or list) of dicts: ``name``, ``frame`` (videos),
            ``focal_length``, ``predictions`` (person records) and, with
            ``return_vis``, ``visualization`` (BGR overlay).

        Raises:
            ValueError, TypeError: A bad option (at the call, before any
                work), e.g. an unknown keyword.
            PermissionError: An output folder that is not writable.
            RuntimeError: ``show`` without a display.
        """
        opts = InferenceOptions(**kwargs)
        opts.check(self.fit_smpl, has_display)
        items = self._items(inputs)
        if bboxes is not None and not isinstance(bboxes, dict) and \
                len(items) != 1:
            raise ValueError('bboxes for several inputs must be a dict by '
                             'file name')
        opts.make_folders()
        if opts.batch_size is None:  # this call's, else the inferencer's
            opts.batch_size = self.batch_size
        results = self._generate(items, bboxes, opts)
        return list(results) if return_list else results

    def _items(self, inputs) -> List[Tuple[str, str, object]]:
        """(output name, box-file key, path or array) per input."""
        sources = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        files = [f for source in sources for f in collect_inputs(source)]
        names = output_names([f for f in files if isinstance(f, Path)])
        arrays = iter(range(len(files)))
        items = []
        for f in files:
            if isinstance(f, Path):
                items.append((*names[f], f))
            else:
                name = f'array_{next(arrays)}'
                items.append((name, name, f))
        return items

    def _generate(self, items, bboxes, opts: InferenceOptions
                  ) -> Iterator[dict]:
        self.skipped, pending = [], []
        for name, key, item in tqdm(items, desc='inference',
                                    disable=len(items) == 1):
            per_file = isinstance(bboxes, dict)
            entry = boxes_for(bboxes, key) if per_file else bboxes
            has_entry = not per_file or entry is not None
            try:
                if isinstance(item, Path) and \
                        item.suffix.lower() in VIDEO_EXTS:
                    yield from self._flush(pending, opts)
                    yield from run_video(self, item, name, key, entry,
                                         has_entry, opts)
                    continue
                pending.append(self._image_job(item, name, key, entry,
                                               has_entry, opts))
            except (ValueError, OSError) as err:
                self._skip(name, err, opts)
                continue
            if sum(1 if j['boxes'] is None else len(j['boxes'])
                   for j in pending) >= opts.batch_size:
                yield from self._flush(pending, opts)
        yield from self._flush(pending, opts)

    def _skip(self, name: str, err: Exception,
              opts: InferenceOptions) -> None:
        if not opts.skip_errors:
            raise err
        self.skipped.append((name, str(err)))
        print_log(f'skipped {name}: {err}', logger='current',
                  level=logging.ERROR)

    def missing_entry(self, name: str, opts: InferenceOptions) -> None:
        """A box file without an entry for ``name``: a warning, or
        :class:`MissingBoxesError` with ``strict_boxes``."""
        message = f'{name}: no entry in the box file'
        if opts.strict_boxes:
            raise MissingBoxesError(message + ' (strict_boxes)')
        print_log(message + '; ' + ('detecting people' if self.detector
                                    else 'the whole image is one person'),
                  logger='current', level=logging.WARNING)

    def choose_boxes(self, image: np.ndarray, name: str, entry,
                     has_entry: bool, opts: InferenceOptions
                     ) -> Optional[np.ndarray]:
        """Boxes in order of preference: the box file's (or the caller's),
        the detector's, the whole image (None), with a message for each
        fallback. ``has_entry`` False: a box file without an entry for
        this input (a warning; an error with ``strict_boxes``)."""
        if not has_entry:
            self.missing_entry(name, opts)
        elif entry is not None and len(entry):
            return check_boxes(to_xyxy(entry, opts.bbox_format),
                               image.shape, name, drop_bad=True)
        if self.detector is not None:
            found = np.asarray(self.detector(image)).reshape(-1, 5)
            if len(found):
                return check_boxes(found[:, :4], image.shape, name,
                                   drop_bad=True)
            print_log(f'{name}: the detector found nobody; the whole image '
                      'is one person', logger='current',
                      level=logging.WARNING)
        elif has_entry:  # (a missing entry was warned about above)
            print_log(f'{name}: no boxes and no detector; the whole image '
                      'is one person', logger='current', level=logging.INFO)
        return None

    def _image_job(self, item, name: str, key: str, entry, has_entry: bool,
                   opts: InferenceOptions) -> dict:
        path = item if isinstance(item, Path) else None
        image = read_image(item) if path is not None else item
        if not (isinstance(image, np.ndarray) and image.ndim == 3 and
                image.shape[2] == 3 and image.dtype == np.uint8):
            raise ValueError(f'{name}: an input array must be (H, W, 3) '
                             'uint8 BGR')
        boxes = self.choose_boxes(image, key, entry, has_entry, opts)
        focal, source = resolve_focal(*image.shape[:2], opts.focal_length,
                                      path)
        log_focal(name, focal, source)
        return dict(image=image, boxes=boxes, focal=focal, name=name,
                    source=str(item) if path is not None else name)

    def _flush(self, pending: list, opts: InferenceOptions
               ) -> Iterator[dict]:
        """Predict the waiting images together, then write and yield
        each; empties ``pending``."""
        jobs = list(pending)
        pending.clear()
        if not jobs:
            return
        for job, people in zip(jobs, self.predict_many(jobs,
                                                        opts.batch_size)):
            yield self._finish_image(job, people, opts)

    def _finish_image(self, job: dict, people: List[dict],
                      opts: InferenceOptions) -> dict:
        name, image, focal = job['name'], job['image'], job['focal']
        overlay = None
        if opts.wants_overlay:
            overlay = self.draw(image, people, focal, opts)
        if opts.vis_out_dir:
            out = Path(opts.vis_out_dir)
            write_image(out / f'{name}_overlay.jpg', overlay)
            side = draw_side_view([p['vertices'] for p in people],
                                  self.faces, SIDE_PANEL,
                                  list(person_colors(len(people))))
            write_image(out / f'{name}_side.jpg', side)
        if opts.pred_out_dir:
            out = Path(opts.pred_out_dir)
            write_image_predictions(out, name, job['source'], people, focal,
                                    image.shape[:2])
            write_meshes(out, name, people, self.faces,
                         person_colors(len(people)), opts.mesh_formats)
        if opts.smpl_out_dir:
            write_smpl(Path(opts.smpl_out_dir) / f'{name}_smpl.npz', people)
        if opts.show:
            show_image(overlay, name, opts.wait_time)
        result = dict(name=name, focal_length=focal, predictions=people)
        if opts.return_vis:
            result['visualization'] = overlay
        return result
