import numpy as np
import pytest
import torch

from pointhmr_mm.apis.video_io import (VideoWriter, count_video_frames,
                                       load_video_results, results_by_frame,
                                       save_video_results, track_arrays,
                                       write_video)

NUM_VERTICES = 5


def record(seed, with_tensor=False):
    rng = np.random.default_rng(seed)
    vertices = rng.normal(size=(NUM_VERTICES, 3)).astype(np.float32)
    return dict(bbox=rng.uniform(0, 100, 4), camera=rng.normal(size=3),
                cam_t_full=rng.normal(size=3),
                vertices=torch.from_numpy(vertices) if with_tensor
                else vertices,
                smpl_body_pose=rng.normal(size=(23, 3)).astype(np.float32))


def video_frames():
    """Four frames: two people, then one, then none, then a new id."""
    return [{0: record(0), 3: record(1, with_tensor=True)}, {3: record(2)},
            {}, {5: record(3)}]


def test_results_round_trip(tmp_path):
    frames = video_frames()
    path = save_video_results(tmp_path / 'clip.npz', frames, fps=25.,
                              source='clip.mp4')
    results = load_video_results(path)
    assert results['fps'] == 25. and results['num_frames'] == 4
    assert results['source'] == 'clip.mp4'
    assert results['frame'].tolist() == [0, 0, 1, 3]
    assert results['track_id'].tolist() == [0, 3, 3, 5]
    assert results['vertices'].shape == (4, NUM_VERTICES, 3)
    assert results['vertices'].dtype == np.float32
    back = results_by_frame(results)
    assert [sorted(f) for f in back] == [[0, 3], [3], [], [5]]
    for want, got in zip(frames, back):
        for track_id, person in want.items():
            for key, value in person.items():
                np.testing.assert_array_equal(got[track_id][key],
                                              np.asarray(value))


def test_track_arrays(tmp_path):
    frames = video_frames()
    results = load_video_results(save_video_results(
        tmp_path / 'clip.npz', frames, fps=25.))
    track = track_arrays(results, 3)
    assert track['frame'].tolist() == [0, 1]
    np.testing.assert_array_equal(track['bbox'][1], frames[1][3]['bbox'])
    assert track['smpl_body_pose'].shape == (2, 23, 3)
    assert 'fps' not in track and 'track_id' not in track
    with pytest.raises(KeyError, match=r'no track 4; the tracks are \[0, 3'):
        track_arrays(results, 4)


def test_results_file_needs_no_pickle(tmp_path):
    path = save_video_results(tmp_path / 'a.npz', video_frames(), fps=30.)
    with np.load(path, allow_pickle=False) as data:
        assert {'frame', 'track_id', 'bbox', 'fps'} <= set(data.files)


def test_results_without_people(tmp_path):
    path = save_video_results(tmp_path / 'empty.npz', [{}, {}], fps=30.)
    results = load_video_results(path)
    assert results['frame'].shape == (0, ) and results['num_frames'] == 2
    assert results_by_frame(results) == [{}, {}]


def test_results_bad_arguments(tmp_path):
    frames = video_frames()
    with pytest.raises(ValueError, match='.npz'):
        save_video_results(tmp_path / 'a.json', frames, fps=30.)
    with pytest.raises(ValueError, match='fps'):
        save_video_results(tmp_path / 'a.npz', frames, fps=0)
    frames[1][3].pop('camera')
    with pytest.raises(KeyError, match='frame 1, track 3: no "camera"'):
        save_video_results(tmp_path / 'a.npz', frames, fps=30.)
    frames = video_frames()
    frames[3][5]['vertices'] = np.zeros((4, 3))
    with pytest.raises(ValueError, match='"vertices" has shape'):
        save_video_results(tmp_path / 'a.npz', frames, fps=30.)
    with pytest.raises(ValueError, match='reserved'):
        save_video_results(tmp_path / 'a.npz', [{0: dict(frame=1)}], fps=1.)
    with pytest.raises(TypeError, match=r'frames\[0\]'):
        save_video_results(tmp_path / 'a.npz', [[record(0)]], fps=1.)
    assert not list(tmp_path.iterdir())
    np.savez(tmp_path / 'other.npz', x=np.zeros(2))
    with pytest.raises(KeyError, match='not a video results file'):
        load_video_results(tmp_path / 'other.npz')


def frames_of(count, height=48, width=64):
    return [np.full((height, width, 3), 20 * i, np.uint8)
            for i in range(count)]


def test_video_writer_frame_count(tmp_path):
    path = tmp_path / 'out' / 'overlay.mp4'
    assert write_video(path, frames_of(7), fps=10.) == 7
    assert count_video_frames(path) == 7


def test_video_writer_checks(tmp_path):
    with pytest.raises(ValueError, match='fps'):
        VideoWriter(tmp_path / 'a.mp4', fps=0)
    with pytest.raises(ValueError, match='fourcc'):
        VideoWriter(tmp_path / 'a.mp4', fps=10, fourcc='mp4')
    writer = VideoWriter(tmp_path / 'a.mp4', fps=10)
    with pytest.raises(ValueError, match='uint8'):
        writer.write(np.zeros((8, 8, 3), np.float32))
    writer.write(frames_of(1)[0])
    with pytest.raises(ValueError, match='frame 1 is 32x16'):
        writer.write(frames_of(1, 16, 32)[0])
    assert writer.close() == 1
    with pytest.raises(ValueError, match='closed'):
        writer.write(frames_of(1)[0])
    with pytest.raises(ValueError, match='no frames'):
        write_video(tmp_path / 'b.mp4', [], fps=10)
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(OSError):
        write_video(blocker / 'c.mp4', frames_of(1), fps=10)
    with pytest.raises(OSError, match='cannot read'):
        count_video_frames(tmp_path / 'missing.mp4')
