"""A video's outputs: the rendered video and one results file.

Results file (``.npz``, no pickled objects, read with
``np.load(allow_pickle=False)``): one row per person per frame, in frame
order then track order.

- ``frame`` (R, ) int64 frame index, ``track_id`` (R, ) int64;
- every field of the people's records, stacked: e.g. ``bbox`` (R, 4) xyxy
  pixels, ``camera`` (R, 3), ``cam_t_full`` (R, 3) metres, ``vertices``
  (R, N, 3) metres, ``smpl_body_pose`` (R, 23, 3); each keeps its dtype;
- ``fps`` () and ``num_frames`` () of the video (frames without people
  count), ``source`` () the input's name, ``format_version`` ().

Shape shorthand: R rows (person-frames), N vertices, H x W frame pixels.
"""
from pathlib import Path
from typing import Dict, Hashable, List, Mapping, Sequence, Union

import cv2
import numpy as np

from pointhmr_mm.utils.atomic_io import write_file_atomically

PathLike = Union[str, Path]
FORMAT_VERSION = 1
INDEX_KEYS = ('frame', 'track_id')
META_KEYS = ('fps', 'num_frames', 'source', 'format_version')
DEFAULT_FOURCC = 'mp4v'


def _rows(frames) -> tuple:
    """(frame, track id, record) rows, checked."""
    rows = []
    for index, people in enumerate(frames):
        if not isinstance(people, Mapping):
            raise TypeError(f'frames[{index}] must be a dict of track id -> '
                            f'record, got {type(people).__name__}')
        for track_id in sorted(people):
            record = people[track_id]
            reserved = set(record) & set(INDEX_KEYS + META_KEYS)
            if reserved:
                raise ValueError(f'frames[{index}][{track_id}]: field names '
                                 f'{sorted(reserved)} are reserved')
            rows.append((index, int(track_id), record))
    return rows


def _stack(rows, key: str) -> np.ndarray:
    values = []
    for frame, track_id, record in rows:
        if key not in record:
            raise KeyError(f'frame {frame}, track {track_id}: no "{key}" '
                           'field (every person needs the same fields)')
        value = record[key]
        value = value.detach().cpu().numpy() if hasattr(value, 'detach') \
            else np.asarray(value)
        if value.dtype.kind not in 'biuf':
            raise TypeError(f'frame {frame}, track {track_id}: "{key}" is '
                            f'{value.dtype}, not numbers')
        if values and value.shape != values[0].shape:
            raise ValueError(f'frame {frame}, track {track_id}: "{key}" has '
                             f'shape {value.shape}, others '
                             f'{values[0].shape}')
        values.append(value)
    return np.stack(values)


def save_video_results(path: PathLike,
                       frames: Sequence[Mapping[Hashable, Mapping]],
                       fps: float, source: str = '') -> Path:
    """Write one video's per-frame, per-track results.

    Args:
        path: Output ``.npz``; replaced atomically.
        frames: One dict per frame, track id -> record (field -> array,
            e.g. ``bbox`` (4, ), ``vertices`` (N, 3)); every record has the
            same fields with the same shapes.
        fps: Frames per second of the video.
        source: The input video's name, kept for the reader.

    Returns:
        Path: the file written.
    """
    path = Path(path)
    if path.suffix != '.npz':
        raise ValueError(f'{path}: video results are written as .npz')
    if not fps > 0:
        raise ValueError(f'fps must be positive, got {fps}')
    rows = _rows(frames)
    keys = sorted({k for _, _, record in rows for k in record})
    arrays = {key: _stack(rows, key) for key in keys}
    arrays.update(frame=np.array([r[0] for r in rows], np.int64),
                  track_id=np.array([r[1] for r in rows], np.int64),
                  fps=np.array(float(fps)), num_frames=np.array(len(frames)),
                  source=np.array(str(source)),
                  format_version=np.array(FORMAT_VERSION))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomically(path, lambda f: np.savez(f, **arrays))
    return path


def load_video_results(path: PathLike) -> Dict[str, np.ndarray]:
    """Read a file of :func:`save_video_results`.

    Returns:
        dict: ``frame`` (R, ), ``track_id`` (R, ), every stacked field,
        and ``fps`` (float), ``num_frames`` (int), ``source`` (str).
    """
    path = Path(path)
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in INDEX_KEYS + META_KEYS if k not in data]
        if missing:
            raise KeyError(f'{path}: not a video results file, lacks '
                           f'{missing}')
        if int(data['format_version']) > FORMAT_VERSION:
            raise ValueError(f'{path}: format_version '
                             f'{int(data["format_version"])} is newer than '
                             f'this reader ({FORMAT_VERSION})')
        out = {k: data[k] for k in data.files if k not in META_KEYS}
        out.update(fps=float(data['fps']),
                   num_frames=int(data['num_frames']),
                   source=str(data['source']))
    return out


def results_by_frame(results: Mapping) -> List[Dict[int, dict]]:
    """Rows of :func:`load_video_results` back to one dict per frame.

    Returns:
        list: ``num_frames`` dicts of track id -> record (field -> array).
    """
    fields = [k for k in results if k not in INDEX_KEYS + META_KEYS]
    frames: List[Dict[int, dict]] = [{} for _ in
                                     range(results['num_frames'])]
    for row, (frame, track_id) in enumerate(zip(results['frame'],
                                                results['track_id'])):
        frames[frame][int(track_id)] = {k: results[k][row] for k in fields}
    return frames


def track_arrays(results: Mapping, track_id: int) -> Dict[str, np.ndarray]:
    """One track's rows of :func:`load_video_results`, in frame order.

    Returns:
        dict: ``frame`` (T, ) and every field (T, ...) of the track, e.g.
        the ``smpl_*`` series :func:`.exporters.export_smpl_bvh` takes.
    """
    rows = np.flatnonzero(results['track_id'] == track_id)
    if not len(rows):
        raise KeyError(f'no track {track_id}; the tracks are '
                       f'{sorted(set(results["track_id"].tolist()))}')
    rows = rows[np.argsort(results['frame'][rows], kind='stable')]
    return {k: np.asarray(v)[rows] for k, v in results.items()
            if k not in META_KEYS and k != 'track_id'}


class VideoWriter:
    """Frames to a video file with OpenCV, opened at the first frame.

    Args:
        path: Output file (``.mp4`` for the default codec); its folder is
            created.
        fps: Frames per second.
        fourcc: OpenCV codec code; 'mp4v' is in every OpenCV build.

    Example:
        >>> with VideoWriter('out/overlay.mp4', fps=25) as writer:
        ...     for frame in frames:
        ...         writer.write(frame)
    """

    def __init__(self, path: PathLike, fps: float,
                 fourcc: str = DEFAULT_FOURCC):
        if not fps > 0:
            raise ValueError(f'fps must be positive, got {fps}')
        if len(fourcc) != 4:
            raise ValueError(f'fourcc must be 4 characters, got {fourcc!r}')
        self.path, self.fps, self.fourcc = Path(path), float(fps), fourcc
        self.size = None
        self.count = 0
        self._writer = None

    def _open(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = cv2.VideoWriter(
            str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps,
            (width, height))
        if not self._writer.isOpened():
            self._writer = None
            raise OSError(f'{self.path}: OpenCV cannot write this video '
                          f'(codec {self.fourcc}; is the folder writable and '
                          'the extension one the codec supports?)')
        self.size = (width, height)

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 BGR frame; every frame has the first
        one's size."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f'frame must be (H, W, 3) uint8 BGR, got '
                             f'{frame.shape} {frame.dtype}')
        size = (frame.shape[1], frame.shape[0])
        if self._writer is None:
            if self.count:
                raise ValueError(f'{self.path}: the writer is closed')
            self._open(*size)
        elif size != self.size:
            raise ValueError(f'frame {self.count} is {size[0]}x{size[1]}, '
                             f'the video {self.size[0]}x{self.size[1]}')
        self._writer.write(np.ascontiguousarray(frame))
        self.count += 1

    def close(self) -> int:
        """Finish the file; returns the frames written."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        return self.count

    def __enter__(self) -> 'VideoWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_video(path: PathLike, frames, fps: float,
                fourcc: str = DEFAULT_FOURCC) -> int:
    """Write (H, W, 3) uint8 BGR ``frames``; returns how many."""
    with VideoWriter(path, fps, fourcc) as writer:
        for frame in frames:
            writer.write(frame)
    if not writer.count:
        raise ValueError(f'{path}: no frames to write')
    return writer.count


def count_video_frames(path: PathLike) -> int:
    """Frames OpenCV decodes from ``path`` (decoded, not the header's
    count, which some containers leave wrong)."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise OSError(f'{path}: OpenCV cannot read this video')
    count = 0
    try:
        while capture.grab():
            count += 1
    finally:
        capture.release()
    return count


__all__ = ['VideoWriter', 'count_video_frames', 'load_video_results',
           'results_by_frame', 'save_video_results', 'track_arrays',
           'write_video']
