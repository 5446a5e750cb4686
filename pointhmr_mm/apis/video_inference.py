"""A video through ``MeshInferencer``: frames batched, people tracked and
optionally smoothed, one rendered video and one results file.

Shape shorthand: P people in a frame, T frames of a track.
"""
import logging
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log
from tqdm import tqdm

from pointhmr_mm.visualization import person_colors
from .exporters import export_bvh, export_glb, smpl_skeleton
from .focal_length import resolve_focal
from .options import InferenceOptions
from .smoothing import TrackSmoother
from .tracking import IoUTracker
from .video_io import VideoWriter, save_video_results
from .writers import write_smpl

DEFAULT_VIDEO_FPS = 25.
# record fields a smoothed track has filtered: the pelvis-centred mesh and
# joints apart from the translation (as docs/benchmarks.md measures them),
# the 2D joints, and the fitted SMPL parameters when present; the ``_cam``
# fields are then rebuilt from them
SMOOTHED = ('vertices', 'keypoints_3d', 'mesh_keypoints_3d', 'cam_t_full',
            'mesh_keypoints_2d')
CAMERA_FRAME = ('vertices', 'keypoints_3d', 'mesh_keypoints_3d')
SMOOTHED_SMPL = ('smpl_global_orient', 'smpl_body_pose', 'smpl_transl')


def read_frames(path: Path) -> Iterator[Tuple[int, np.ndarray, float]]:
    """(index, BGR frame, fps) of each frame, with a progress bar that
    shows frames per second."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f'{path}: unreadable video')
    fps = capture.get(cv2.CAP_PROP_FPS) or DEFAULT_VIDEO_FPS
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    try:
        with tqdm(total=total, desc=path.name, unit='frame') as progress:
            index = 0
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                yield index, frame, fps
                index += 1
                progress.update()
    finally:
        capture.release()


class _VideoRun:
    """State of one video: tracker, smoother, writer and the results."""

    def __init__(self, inferencer, path: Path, name: str,
                 opts: InferenceOptions):
        self.inferencer, self.path, self.name = inferencer, path, name
        self.opts = opts
        self.tracker = IoUTracker() if opts.track else None
        self.smoother: Optional[TrackSmoother] = None
        self.writer: Optional[VideoWriter] = None
        # per frame, track id -> record (the results file's layout)
        self.frames: List[Dict[int, dict]] = []
        self.fps = DEFAULT_VIDEO_FPS

    def _smooth(self, ids, people: List[dict]) -> List[dict]:
        if not self.opts.smooth:
            return people
        if self.smoother is None:
            keys = SMOOTHED + (SMOOTHED_SMPL if people and
                               'smpl_transl' in people[0] else ())
            self.smoother = TrackSmoother(
                keys, fps=self.fps, min_cutoff=self.opts.smooth_min_cutoff,
                beta=self.opts.smooth_beta)
        smoothed = [self.smoother(int(i), p) for i, p in zip(ids, people)]
        for person in smoothed:
            for key in CAMERA_FRAME:
                person[f'{key}_cam'] = person[key] + person['cam_t_full']
        return smoothed

    def finish_frame(self, index: int, frame: np.ndarray, boxes,
                     people: List[dict], focal: float) -> dict:
        """Track, smooth, draw and keep one predicted frame."""
        used = np.array([p['bbox'] for p in people]).reshape(-1, 4) \
            if people else np.zeros((0, 4))
        ids = self.tracker.update(used) if self.tracker is not None \
            else np.arange(len(people))
        people = self._smooth(ids, people)
        while len(self.frames) < index:  # frames the run skipped
            self.frames.append({})
        self.frames.append({int(t): p for t, p in zip(ids, people)})
        result = dict(name=self.name, frame=index, focal_length=focal,
                      predictions=[dict(p, track_id=int(t))
                                   for t, p in zip(ids, people)])
        if self.opts.wants_overlay:
            overlay = self.inferencer.draw(frame, people, focal, self.opts)
            if self.opts.vis_out_dir:
                if self.writer is None:
                    self.writer = VideoWriter(
                        Path(self.opts.vis_out_dir) /
                        f'{self.name}_overlay.mp4', self.fps)
                self.writer.write(overlay)
            if self.opts.show:
                from pointhmr_mm.visualization import show_image
                show_image(overlay, self.name, self.opts.wait_time)
            if self.opts.return_vis:
                result['visualization'] = overlay
        return result

    def close(self) -> None:
        """Release the video and write the results files."""
        if self.writer is not None:
            self.writer.close()
        people = [p for frame in self.frames for p in frame.values()]
        if not people:
            return
        if self.opts.pred_out_dir:
            save_video_results(
                Path(self.opts.pred_out_dir) / f'{self.name}.npz',
                self.frames, self.fps, source=str(self.path))
            if self.inferencer.fit_smpl:
                self._write_bvh(Path(self.opts.pred_out_dir))
            if 'glb' in self.opts.mesh_formats:
                self._write_glb(Path(self.opts.pred_out_dir))
        if self.opts.smpl_out_dir:
            write_smpl(Path(self.opts.smpl_out_dir) /
                       f'{self.name}_smpl.npz', people)

    def _write_glb(self, folder: Path) -> None:
        """``<name>_track<id>.glb``: each track's mesh where it first
        appears, camera frame, in its overlay colour."""
        first: Dict[int, dict] = {}
        for frame in self.frames:
            for track_id, record in frame.items():
                first.setdefault(track_id, record)
        colors = person_colors(max(first) + 1)
        for track_id, record in first.items():
            export_glb(folder / f'{self.name}_track{track_id}.glb',
                       record['vertices_cam'], self.inferencer.faces,
                       color=colors[track_id])

    def _write_bvh(self, folder: Path) -> None:
        """``<name>_track<id>.bvh`` of each track's SMPL parameters."""
        tracks: Dict[int, List[dict]] = {}
        for frame in self.frames:
            for track_id, record in frame.items():
                tracks.setdefault(track_id, []).append(record)
        body = self.inferencer.model.body_model
        for track_id, records in tracks.items():
            rest, parents = smpl_skeleton(
                body, np.mean([r['smpl_betas'] for r in records], 0))
            export_bvh(folder / f'{self.name}_track{track_id}.bvh', rest,
                       parents,
                       np.stack([r['smpl_global_orient'] for r in records]),
                       np.stack([r['smpl_body_pose'] for r in records]),
                       np.stack([r['smpl_transl'] for r in records]),
                       fps=self.fps)


def run_video(inferencer, path: Path, name: str, key: str, entry,
              has_entry: bool, opts: InferenceOptions) -> Iterator[dict]:
    """Yield one result per frame of the video at ``path``.

    ``entry``: the box file's ``{frame index: boxes}`` (frames without one
    go to the detector, else are one whole-frame person, with a warning);
    ``has_entry`` False: the box file has no entry for the video.
    """
    if entry is not None and not isinstance(entry, dict):
        raise ValueError(f'{path.name}: boxes of a video must be given per '
                         'frame ({frame index: boxes})')
    if not has_entry:
        inferencer.missing_entry(key, opts)
    run = _VideoRun(inferencer, path, name, opts)
    pending, unboxed, frames = [], 0, 0
    try:
        for index, frame, fps in read_frames(path):
            run.fps, frames = fps, frames + 1
            boxes = None if entry is None else entry.get(index)
            unboxed += entry is not None and boxes is None
            chosen = inferencer.choose_boxes(
                frame, f'{key} frame {index}', boxes, True, opts) \
                if boxes is not None or inferencer.detector else None
            focal, _ = resolve_focal(*frame.shape[:2], opts.focal_length)
            pending.append(dict(image=frame, boxes=chosen, focal=focal,
                                name=f'{name} frame {index}', index=index))
            if sum(1 if j['boxes'] is None else len(j['boxes'])
                   for j in pending) >= opts.batch_size:
                yield from _flush(run, pending)
        yield from _flush(run, pending)
    finally:
        run.close()
    if not frames:
        raise ValueError(f'{path}: no frames')
    if unboxed:
        print_log(f'{path.name}: {unboxed} of {frames} frames have no box '
                  'in the bbox file; ' + ('the detector' if
                                          inferencer.detector else
                                          'the whole frame') + ' was used',
                  logger='current', level=logging.WARNING)


def _flush(run: _VideoRun, pending: list) -> Iterator[dict]:
    jobs = list(pending)
    pending.clear()
    if not jobs:
        return
    for job, people in zip(jobs, run.inferencer.predict_many(
            jobs, run.opts.batch_size)):
        yield run.finish_frame(job['index'], job['image'], job['boxes'],
                               people, job['focal'])
