"""Temporal smoothing of per-frame predictions: the One-Euro filter.

The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a first-order
low-pass filter whose cutoff frequency rises with the signal's speed: a
still body is smoothed hard (little jitter), a fast one lightly (little
lag). Per value and frame, with ``dt`` the time since the last frame::

    alpha(fc) = 1 / (1 + 1 / (2 pi fc dt))
    dx_hat    = lowpass(dx = (x - x_hat_prev) / dt, alpha(d_cutoff))
    fc        = min_cutoff + beta * |dx_hat|
    x_hat     = lowpass(x, alpha(fc))

The first frame passes unchanged. It is written here (about 40 lines)
rather than taken from the ``OneEuroFilter`` packages on PyPI because those
filter one scalar at a time; a mesh is 20k values a frame.

Parameters (units follow the signal: metres for vertices and joints,
rotation-6D units, about radians, for SMPL rotations):

- ``min_cutoff`` (Hz): the cutoff when still. Lower removes more jitter and
  lags slow motion more.
- ``beta`` (s/unit): how fast the cutoff opens with speed. Raise it when
  fast motion lags; 0 makes a plain low-pass filter, which lags a moving
  body by tens of centimetres.
- ``d_cutoff`` (Hz): the cutoff of the speed estimate; 1 Hz rarely needs
  changing.

``tools/analysis/smoothing_jitter.py`` measures jitter and the error
against the truth for a choice of these (docs/benchmarks.md): on a walking
body at 30 fps, ``min_cutoff=1, beta=5`` for pelvis-centred vertices or SMPL
rotations and ``min_cutoff=1, beta=10`` for the translation cut jitter
2.6-2.8x and lower the error; ``beta=0`` over-smooths.

Shape shorthand: T frames, N vertices, J joints.
"""
import math
from typing import Dict, Hashable, Mapping, Optional

import numpy as np
import torch

from pointhmr_mm.utils.geometry import (axis_angle_to_matrix,
                                        matrix_to_axis_angle, matrix_to_rot6d,
                                        rot6d_to_matrix)

DEFAULT_FPS = 30.
# SMPL parameters that are rotations in axis-angle, smoothed as 6D
ROTATION_KEYS = ('global_orient', 'body_pose')


def _positive(name: str, value: float) -> float:
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f'{name} must be a positive number, got {value}')
    return float(value)


class OneEuroFilter:
    """One-Euro filter over arrays of any fixed shape, element by element.

    Args:
        min_cutoff: Cutoff frequency (Hz) of a still signal.
        beta: Speed coefficient: cutoff = min_cutoff + beta * |speed|.
        d_cutoff: Cutoff frequency (Hz) of the speed estimate.
        fps: Frame rate, used when :meth:`__call__` gets no timestamp.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0,
                 d_cutoff: float = 1.0, fps: float = DEFAULT_FPS):
        self.min_cutoff = _positive('min_cutoff', min_cutoff)
        if not beta >= 0 or not math.isfinite(beta):
            raise ValueError(f'beta must be a number >= 0, got {beta}')
        self.beta = float(beta)
        self.d_cutoff = _positive('d_cutoff', d_cutoff)
        self.fps = _positive('fps', fps)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next value passes unchanged."""
        self.value: Optional[np.ndarray] = None
        self.speed: Optional[np.ndarray] = None
        self.time: Optional[float] = None

    @staticmethod
    def _alpha(cutoff, dt: float):
        """Smoothing factor of a first-order low-pass filter at ``cutoff``
        Hz for a step of ``dt`` seconds."""
        return 1.0 / (1.0 + 1.0 / (2 * math.pi * cutoff * dt))

    def __call__(self, value, timestamp: Optional[float] = None
                 ) -> np.ndarray:
        """Filter one frame.

        Args:
            value: (...) array of this frame, e.g. (N, 3) vertices.
            timestamp: Seconds; None steps by ``1 / fps``.

        Returns:
            np.ndarray: (...) the filtered value, float64.
        """
        value = np.asarray(value, dtype=np.float64)
        if self.value is None:
            self.value, self.speed = value.copy(), np.zeros_like(value)
            self.time = 0.0 if timestamp is None else float(timestamp)
            return value.copy()
        if value.shape != self.value.shape:
            raise ValueError(f'value has shape {value.shape}, but the filter '
                             f'holds {self.value.shape}; reset() it first')
        time = self.time + 1 / self.fps if timestamp is None else \
            float(timestamp)
        dt = time - self.time
        if not dt > 0:
            raise ValueError(f'timestamp must increase: {timestamp} after '
                             f'{self.time}')
        speed = (value - self.value) / dt
        alpha_d = self._alpha(self.d_cutoff, dt)
        self.speed = self.speed + alpha_d * (speed - self.speed)
        cutoff = self.min_cutoff + self.beta * np.abs(self.speed)
        alpha = self._alpha(cutoff, dt)
        self.value = self.value + alpha * (value - self.value)
        self.time = time
        return self.value.copy()


def smooth_sequence(values, fps: float = DEFAULT_FPS, min_cutoff: float = 1.,
                    beta: float = 0., d_cutoff: float = 1.) -> np.ndarray:
    """One-Euro filter a whole sequence at once.

    Args:
        values: (T, ...) one array per frame.
        fps, min_cutoff, beta, d_cutoff: As :class:`OneEuroFilter`.

    Returns:
        np.ndarray: (T, ...) filtered, float64.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim < 1 or not len(values):
        raise ValueError(f'values must be (T, ...) with T >= 1, got shape '
                         f'{values.shape}')
    one_euro = OneEuroFilter(min_cutoff, beta, d_cutoff, fps)
    return np.stack([one_euro(frame) for frame in values])


def _to_rot6d(axis_angle: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 6)."""
    matrix = axis_angle_to_matrix(torch.as_tensor(axis_angle,
                                                  dtype=torch.float64))
    return matrix_to_rot6d(matrix).numpy()


def _from_rot6d(rot6d: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3) axis-angle (Gram-Schmidt back onto SO(3))."""
    matrix = rot6d_to_matrix(torch.as_tensor(rot6d, dtype=torch.float64))
    return matrix_to_axis_angle(matrix).numpy()


class TrackSmoother:
    """One filter per track and per field, for a video's people.

    Rotations of SMPL parameters (``global_orient``, ``body_pose``, in
    axis-angle, also with an ``smpl_`` prefix) are filtered as 6D rotations
    (the first two columns of the rotation matrix) and mapped back:
    axis-angle is not continuous (near pi the vector jumps to the opposite
    side while the rotation barely moves, and one rotation has many
    vectors), so a filter on it averages unrelated numbers into a wrong
    pose; the 6D form changes continuously with the rotation, and
    Gram-Schmidt projects the filtered result back onto a rotation.
    Everything else (vertices, joints, ``transl``, ``betas``, cameras) is
    filtered as it is.

    Args:
        keys: Fields of a record to smooth; others pass through.
        fps, min_cutoff, beta, d_cutoff: As :class:`OneEuroFilter`, for
            every field without its own in ``key_options``.
        key_options: Field -> dict of ``min_cutoff`` / ``beta`` /
            ``d_cutoff`` for that field. A translation (``cam_t_full``,
            ``transl``) moves at walking speed, metres a second, where a
            pelvis-centred mesh or a joint rotation barely moves: it needs
            a larger ``beta`` to follow without lag, and the body fields a
            small one to stay still.

    Example:
        >>> smoother = TrackSmoother(('vertices', 'keypoints_3d'))
        >>> for frame in frames:
        ...     for track_id, record in frame.items():
        ...         frame[track_id] = smoother(track_id, record)
    """

    def __init__(self, keys=('vertices', ), fps: float = DEFAULT_FPS,
                 min_cutoff: float = 1., beta: float = 0.,
                 d_cutoff: float = 1.,
                 key_options: Optional[Mapping[str, Mapping]] = None):
        if isinstance(keys, str) or not len(keys):
            raise ValueError(f'keys must be a non-empty list of field names, '
                             f'got {keys!r}')
        self.keys = tuple(keys)
        shared = dict(min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff,
                      fps=fps)
        key_options = dict(key_options or {})
        unknown = set(key_options) - set(self.keys)
        if unknown:
            raise ValueError(f'key_options names {sorted(unknown)}, which '
                             f'are not in keys {list(self.keys)}')
        self.options = {}
        for key in self.keys:
            options = dict(shared, **key_options.get(key, {}))
            if 'fps' in key_options.get(key, {}) or set(options) - set(
                    shared):
                raise ValueError(f'key_options["{key}"] may set min_cutoff,'
                                 f' beta and d_cutoff, got '
                                 f'{sorted(key_options[key])}')
            OneEuroFilter(**options)  # checks the values once, here
            self.options[key] = options
        self.filters: Dict[Hashable, Dict[str, OneEuroFilter]] = {}

    @staticmethod
    def is_rotation(key: str) -> bool:
        """Whether ``key`` names an axis-angle SMPL rotation."""
        return key.split('smpl_')[-1] in ROTATION_KEYS

    def __call__(self, track_id: Hashable, record: Mapping,
                 timestamp: Optional[float] = None) -> dict:
        """The record of one track in one frame, with ``keys`` smoothed.

        Args:
            track_id: The person's track id.
            record: Field -> array; every name in ``keys`` must be there.
            timestamp: Seconds, e.g. ``frame_index / fps``, so a track
                that missed frames sees the real gap; None steps by
                ``1 / fps``.

        Returns:
            dict: a copy of ``record`` with the smoothed fields (float64).
        """
        missing = [k for k in self.keys if k not in record]
        if missing:
            raise KeyError(f'track {track_id}: record lacks {missing} (has '
                           f'{sorted(record)})')
        filters = self.filters.setdefault(track_id, {})
        out = dict(record)
        for key in self.keys:
            if key not in filters:
                filters[key] = OneEuroFilter(**self.options[key])
            one_euro = filters[key]
            value = np.asarray(record[key], dtype=np.float64)
            if self.is_rotation(key):
                if value.shape[-1] != 3:
                    raise ValueError(f'{key} must be (..., 3) axis-angle, got'
                                     f' shape {value.shape}')
                out[key] = _from_rot6d(one_euro(_to_rot6d(value), timestamp))
            else:
                out[key] = one_euro(value, timestamp)
        return out

    def forget(self, track_id: Hashable) -> None:
        """Drop a finished track's filters."""
        self.filters.pop(track_id, None)


__all__ = ['OneEuroFilter', 'TrackSmoother', 'smooth_sequence']
