"""People followed through a video by the overlap of their boxes.

Each frame's boxes are matched to the live tracks by intersection over union
(IoU) with an optimal one-to-one assignment (the Hungarian algorithm,
``scipy.optimize.linear_sum_assignment``). A track's box is first moved by
its last velocity (constant-velocity prediction), so two people who walk
through each other keep their ids. A detection left unmatched starts a new
track; a track unmatched for more than ``max_age`` frames ends.

Shape shorthand: P detections in a frame, T live tracks. Boxes are xyxy
pixels.
"""
from typing import List, Optional

import numpy as np
from scipy.optimize import linear_sum_assignment


def _as_boxes(name: str, boxes) -> np.ndarray:
    """``boxes`` as a float64 (P, 4) array; a 5th column (score) is
    dropped."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        return np.zeros((0, 4))
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise ValueError(f'{name} must be (P, 4) xyxy boxes (or (P, 5) with '
                         f'a score), got shape {boxes.shape}')
    if not np.isfinite(boxes[:, :4]).all():
        raise ValueError(f'{name} holds NaN or infinite coordinates')
    return boxes[:, :4]


def box_iou(boxes_a, boxes_b) -> np.ndarray:
    """Pairwise intersection over union.

    Args:
        boxes_a: (A, 4) xyxy.
        boxes_b: (B, 4) xyxy.

    Returns:
        np.ndarray: (A, B) IoU in [0, 1]; 0 where a union has no area.
    """
    a, b = _as_boxes('boxes_a', boxes_a), _as_boxes('boxes_b', boxes_b)
    # (A, 1, 2) against (1, B, 2): corners of every intersection
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter),
                     where=union > 0)


class _Track:
    """One person's last box, velocity (pixels a frame) and misses."""

    def __init__(self, track_id: int, box: np.ndarray):
        self.track_id = track_id
        self.box = box
        self.velocity = np.zeros(4)
        self.missed = 0

    def predicted(self, use_motion: bool) -> np.ndarray:
        """The box expected in the coming frame."""
        if not use_motion:
            return self.box
        return self.box + self.velocity * (self.missed + 1)

    def matched(self, box: np.ndarray) -> None:
        self.velocity = (box - self.box) / (self.missed + 1)
        self.box = box
        self.missed = 0


class IoUTracker:
    """Track ids for each frame's person boxes.

    Args:
        min_iou: Smallest IoU between a detection and a track's predicted
            box that may join them, in [0, 1).
        max_age: Frames a track may go unmatched (an occlusion, a missed
            detection) and still take its person back; one more and it
            ends, and the person comes back under a new id.
        use_motion: Predict each track's box with its last velocity before
            matching (keeps ids of people who cross); False matches against
            the last box as it was.

    Example:
        >>> tracker = IoUTracker(min_iou=0.3, max_age=5)
        >>> ids = [tracker.update(boxes) for boxes in boxes_per_frame]
    """

    def __init__(self, min_iou: float = 0.3, max_age: int = 5,
                 use_motion: bool = True):
        if not 0 <= min_iou < 1:
            raise ValueError(f'min_iou must be in [0, 1), got {min_iou}')
        if int(max_age) != max_age or max_age < 0:
            raise ValueError(f'max_age must be a whole number >= 0, got '
                             f'{max_age}')
        self.min_iou = float(min_iou)
        self.max_age = int(max_age)
        self.use_motion = use_motion
        self.tracks: List[_Track] = []
        self.next_id = 0

    @property
    def live_ids(self) -> List[int]:
        """Ids of the tracks still open (matched or briefly missed)."""
        return [t.track_id for t in self.tracks]

    def reset(self) -> None:
        """Forget every track; ids start again from 0."""
        self.tracks, self.next_id = [], 0

    def _assign(self, boxes: np.ndarray) -> List[Optional[int]]:
        """Index of the track each detection joins (None: none)."""
        owner: List[Optional[int]] = [None] * len(boxes)
        if not self.tracks or not len(boxes):
            return owner
        predicted = np.stack([t.predicted(self.use_motion)
                              for t in self.tracks])
        iou = box_iou(boxes, predicted)  # (P, T)
        rows, cols = linear_sum_assignment(iou, maximize=True)
        for row, col in zip(rows, cols):
            # the assignment pairs every row it can; weak pairs are refused
            if iou[row, col] >= self.min_iou and iou[row, col] > 0:
                owner[row] = col
        return owner

    def update(self, boxes) -> np.ndarray:
        """Match one frame's boxes to the tracks.

        Args:
            boxes: (P, 4) xyxy pixels, or (P, 5) with a score (ignored);
                an empty list for a frame without people.

        Returns:
            np.ndarray: (P, ) int64 track id of each box, in the order
            given.
        """
        boxes = _as_boxes('boxes', boxes)
        owner = self._assign(boxes)
        ids = np.empty(len(boxes), dtype=np.int64)
        taken = set()
        for index, (box, track_index) in enumerate(zip(boxes, owner)):
            if track_index is None:
                track = _Track(self.next_id, box)
                self.next_id += 1
                self.tracks.append(track)
            else:
                track = self.tracks[track_index]
                track.matched(box)
            taken.add(id(track))
            ids[index] = track.track_id
        for track in self.tracks:
            if id(track) not in taken:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_age]
        return ids


def track_boxes(boxes_per_frame, min_iou: float = 0.3, max_age: int = 5,
                use_motion: bool = True) -> List[np.ndarray]:
    """Track ids for a whole video's boxes at once.

    Args:
        boxes_per_frame: Sequence of (P_f, 4) xyxy boxes, one per frame.
        min_iou, max_age, use_motion: As :class:`IoUTracker`.

    Returns:
        list: (P_f, ) int64 ids per frame.
    """
    tracker = IoUTracker(min_iou, max_age, use_motion)
    return [tracker.update(boxes) for boxes in boxes_per_frame]


__all__ = ['IoUTracker', 'box_iou', 'track_boxes']
