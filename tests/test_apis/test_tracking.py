import numpy as np
import pytest

from pointhmr_mm.apis.tracking import IoUTracker, box_iou, track_boxes

WIDTH, HEIGHT = 40., 100.


def person(x, y=50., scale=1.):
    """An xyxy box of a standing person centred at (x, y)."""
    half = np.array([WIDTH, HEIGHT]) * scale / 2
    return np.array([x - half[0], y - half[1], x + half[0], y + half[1]])


def test_box_iou_values():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30],
                  [3, 3, 3, 3]])
    np.testing.assert_allclose(box_iou(a, b), [[1, 50 / 150, 0, 0]])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 4)


def test_construction_and_bad_arguments():
    tracker = IoUTracker(min_iou=0.5, max_age=2)
    assert tracker.live_ids == []
    with pytest.raises(ValueError, match='min_iou'):
        IoUTracker(min_iou=1.2)
    with pytest.raises(ValueError, match='max_age'):
        IoUTracker(max_age=-1)
    with pytest.raises(ValueError, match='max_age'):
        IoUTracker(max_age=1.5)
    with pytest.raises(ValueError, match='boxes'):
        tracker.update(np.zeros((2, 3)))
    with pytest.raises(ValueError, match='NaN'):
        tracker.update([[0, 0, np.nan, 1]])


def test_shapes_scores_and_empty_frames():
    tracker = IoUTracker()
    ids = tracker.update(np.array([[0, 0, 10, 10, 0.9], [50, 0, 60, 10, .8]]))
    assert ids.dtype == np.int64 and ids.tolist() == [0, 1]
    assert tracker.update([]).shape == (0, )
    # a detection order change does not change who is who
    assert tracker.update([[50, 0, 60, 10], [0, 0, 10, 10]]).tolist() == \
        [1, 0]


def test_ids_stable_for_moving_people():
    frames = [np.stack([person(100 + 3 * t), person(300 - 2 * t)])
              for t in range(30)]
    ids = track_boxes(frames)
    assert all(frame.tolist() == [0, 1] for frame in ids)


@pytest.mark.parametrize('far_scale', [1.0, 0.5])
def test_crossing_people_keep_ids(far_scale):
    """Two people walk through each other (same size, or one farther
    away); each keeps its id after the crossing."""
    tracker = IoUTracker(min_iou=0.2, max_age=3)
    for t in range(40):
        boxes = np.stack([person(100 + 5 * t),
                          person(300 - 5 * t, scale=far_scale)])
        # detectors list boxes in no fixed order: left to right here
        order = np.argsort(boxes[:, 0])
        ids = tracker.update(boxes[order])
        assert ids[np.argsort(order)].tolist() == [0, 1], f'frame {t}'


def test_crossing_same_size_needs_motion():
    """Without the velocity prediction the identical-size crossing swaps
    ids: what ``use_motion`` is for."""
    swapped = False
    tracker = IoUTracker(min_iou=0.2, max_age=3, use_motion=False)
    for t in range(40):
        boxes = np.stack([person(100 + 5 * t), person(300 - 5 * t)])
        order = np.argsort(boxes[:, 0])
        ids = tracker.update(boxes[order])[np.argsort(order)]
        swapped |= ids.tolist() != [0, 1]
    assert swapped


def test_occlusion_within_max_age_keeps_id():
    tracker = IoUTracker(max_age=3)
    walker = [person(100 + 4 * t) for t in range(12)]
    stand = person(400)
    for t in range(12):
        hidden = 4 <= t < 7  # 3 frames behind something
        boxes = [stand] if hidden else [walker[t], stand]
        ids = tracker.update(np.stack(boxes))
        assert ids.tolist() == ([1] if hidden else [0, 1]), f'frame {t}'
    assert tracker.next_id == 2


def test_appearing_and_disappearing_people():
    tracker = IoUTracker(max_age=2)
    assert tracker.update([person(100)]).tolist() == [0]
    # a second person walks in
    assert tracker.update([person(100), person(300)]).tolist() == [0, 1]
    # the first leaves for longer than max_age
    for _ in range(3):
        assert tracker.update([person(300)]).tolist() == [1]
    assert tracker.live_ids == [1]
    # coming back at the same place is a new person
    assert tracker.update([person(100), person(300)]).tolist() == [2, 1]


def test_min_iou_refuses_weak_matches():
    strict, loose = IoUTracker(min_iou=0.6), IoUTracker(min_iou=0.1)
    first, jumped = person(100), person(125)  # IoU 15/65 = 0.23
    for tracker in (strict, loose):
        tracker.update([first])
    assert strict.update([jumped]).tolist() == [1]
    assert loose.update([jumped]).tolist() == [0]


def test_reset_restarts_ids():
    tracker = IoUTracker()
    tracker.update([person(100), person(300)])
    tracker.reset()
    assert tracker.live_ids == [] and tracker.update([person(5)]).tolist() \
        == [0]
