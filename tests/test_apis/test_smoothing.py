import math

import numpy as np
import pytest
import roma
import torch

from pointhmr_mm.apis.smoothing import (OneEuroFilter, TrackSmoother,
                                        smooth_sequence)

FPS = 30.


def test_construction_and_bad_arguments():
    one_euro = OneEuroFilter(min_cutoff=2., beta=0.1, d_cutoff=1., fps=FPS)
    assert one_euro.value is None
    for bad in (dict(min_cutoff=0), dict(d_cutoff=-1), dict(fps=0),
                dict(min_cutoff=math.inf)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            OneEuroFilter(**bad)
    with pytest.raises(ValueError, match='beta'):
        OneEuroFilter(beta=-0.1)
    one_euro(np.zeros((4, 3)), timestamp=1.0)
    with pytest.raises(ValueError, match='shape'):
        one_euro(np.zeros((5, 3)))
    with pytest.raises(ValueError, match='timestamp'):
        one_euro(np.zeros((4, 3)), timestamp=1.0)
    with pytest.raises(ValueError, match='values'):
        smooth_sequence(np.zeros((0, 3)))
    with pytest.raises(ValueError, match='keys'):
        TrackSmoother(keys='vertices')
    with pytest.raises(ValueError, match='cam_t_full'):
        TrackSmoother(('vertices', ), key_options=dict(cam_t_full={}))
    with pytest.raises(ValueError, match='key_options'):
        TrackSmoother(('vertices', ), key_options=dict(vertices=dict(fps=5)))
    with pytest.raises(ValueError, match='beta'):
        TrackSmoother(('vertices', ), key_options=dict(vertices=dict(
            beta=-1)))


def test_first_frame_unchanged_and_shapes():
    values = np.random.default_rng(0).normal(size=(10, 7, 3))
    out = smooth_sequence(values, FPS, min_cutoff=0.5, beta=1.)
    assert out.shape == values.shape
    np.testing.assert_array_equal(out[0], values[0])


def test_second_frame_by_hand():
    """beta = 0: a first-order low-pass filter with alpha from the cutoff."""
    one_euro = OneEuroFilter(min_cutoff=1., beta=0., fps=FPS)
    one_euro(np.array([0.]))
    tau, dt = 1 / (2 * math.pi * 1.), 1 / FPS
    alpha = 1 / (1 + tau / dt)
    np.testing.assert_allclose(one_euro(np.array([1.])), [alpha])


def test_constant_signal_unchanged():
    values = np.tile(np.array([[0.1, -2.0, 3.5]]), (50, 1))
    out = smooth_sequence(values, FPS, min_cutoff=0.3, beta=5.)
    np.testing.assert_allclose(out, values, rtol=0, atol=1e-12)


def test_noise_is_reduced():
    rng = np.random.default_rng(1)
    t = np.arange(150) / FPS
    # 10 cm at 0.1 Hz under 5 cm noise: slow next to the filter's cutoff
    truth = np.stack([0.1 * np.sin(2 * math.pi * 0.1 * t)] * 20, -1)
    noisy = truth + rng.normal(scale=0.05, size=truth.shape)
    out = smooth_sequence(noisy, FPS, min_cutoff=1., beta=0.5)

    def jitter(x):
        return np.abs(np.diff(x, 2, axis=0)).mean()

    assert jitter(out) < 0.25 * jitter(noisy)
    assert np.abs(out - truth).mean() < 0.5 * np.abs(noisy - truth).mean()


def test_step_is_followed_with_bounded_lag():
    step = np.r_[np.zeros(10), np.ones(40)][:, None]
    frames_to_95 = {}
    for beta in (0., 10.):
        out = smooth_sequence(step, FPS, min_cutoff=1., beta=beta)[:, 0]
        assert (np.diff(out) >= -1e-12).all() and out.max() <= 1 + 1e-12
        frames_to_95[beta] = int(np.argmax(out >= 0.95)) - 10
    # beta = 0 is a plain low-pass filter: out[10 + k] = 1 - (1 - alpha)^(k
    # + 1) with alpha = 0.173 at 1 Hz and 30 fps, above 0.95 from k = 15
    assert frames_to_95[0.] == 15
    # the speed term opens the cutoff: a fast change lags much less
    assert 0 < frames_to_95[10.] <= 4


def test_timestamps_give_the_real_gap():
    """A frame that comes after a gap moves further toward the value."""
    steady, gapped = OneEuroFilter(fps=FPS), OneEuroFilter(fps=FPS)
    for one_euro in (steady, gapped):
        one_euro(np.zeros(1), timestamp=0.)
    near = steady(np.ones(1), timestamp=1 / FPS)
    far = gapped(np.ones(1), timestamp=10 / FPS)
    assert far[0] > 2 * near[0]


def test_track_smoother_keeps_tracks_apart():
    smoother = TrackSmoother(('vertices', ), fps=FPS, min_cutoff=0.5)
    first = smoother(7, dict(vertices=np.zeros((3, 3)), bbox=[1, 2, 3, 4]))
    assert first['bbox'] == [1, 2, 3, 4]
    other = smoother(8, dict(vertices=np.ones((3, 3))))
    np.testing.assert_array_equal(other['vertices'], np.ones((3, 3)))
    second = smoother(7, dict(vertices=np.ones((3, 3))))
    assert 0 < second['vertices'][0, 0] < 1
    smoother.forget(7)
    np.testing.assert_array_equal(
        smoother(7, dict(vertices=np.ones((3, 3))))['vertices'], 1.)
    with pytest.raises(KeyError, match='vertices'):
        smoother(9, dict(bbox=[0, 0, 1, 1]))


def test_key_options_per_field():
    """A field with its own larger beta follows a fast move sooner."""
    smoother = TrackSmoother(('vertices', 'cam_t_full'), min_cutoff=1.,
                             key_options=dict(cam_t_full=dict(beta=50.)))
    assert smoother.options['vertices']['beta'] == 0
    for step in range(3):
        out = smoother(0, dict(vertices=np.full(3, step * 0.1),
                               cam_t_full=np.full(3, step * 0.1)))
    assert out['cam_t_full'][0] > out['vertices'][0] + 0.05


def test_rotations_smoothed_as_6d_across_pi():
    """Rotations about x near pi: axis-angle jumps between (+3.13, 0, 0)
    and (-3.13, 0, 0) for nearly the same rotation. Filtered as 6D they
    stay near pi; filtered raw they would collapse toward the identity."""
    rng = np.random.default_rng(2)
    angles = math.pi + rng.normal(scale=0.02, size=40)
    truth = torch.as_tensor(np.stack([angles, 0 * angles, 0 * angles], -1))
    axis_angle = roma.rotmat_to_rotvec(roma.rotvec_to_rotmat(truth))
    assert (axis_angle[:, 0] > 0).any() and (axis_angle[:, 0] < 0).any()
    smoother = TrackSmoother(('smpl_global_orient', ), fps=FPS)
    out = np.stack([smoother(0, dict(smpl_global_orient=a.numpy()))
                    ['smpl_global_orient'] for a in axis_angle])
    flip = roma.rotvec_to_rotmat(torch.tensor([math.pi, 0., 0.],
                                              dtype=torch.float64))
    error = roma.rotmat_geodesic_distance(
        roma.rotvec_to_rotmat(torch.as_tensor(out)), flip)
    assert error.max() < 0.05
    raw = smooth_sequence(axis_angle.numpy(), FPS)
    assert np.linalg.norm(raw, axis=-1).min() < 2.0  # what 6D avoids


def test_smpl_body_pose_constant_unchanged():
    pose = np.random.default_rng(3).normal(scale=0.4, size=(23, 3))
    smoother = TrackSmoother(('body_pose', 'transl'), min_cutoff=0.2)
    for _ in range(5):
        out = smoother(0, dict(body_pose=pose, transl=np.ones(3)))
    np.testing.assert_allclose(out['body_pose'], pose, atol=1e-9)
    with pytest.raises(ValueError, match='body_pose'):
        smoother(1, dict(body_pose=np.zeros((23, 4)), transl=np.ones(3)))


def test_jitter_tool_measures_the_tradeoff(body_model_dir):
    """tools/analysis/smoothing_jitter.py on the test body: smoothing cuts
    jitter, and a filter with no speed term lags (larger MPJPE)."""
    from argparse import Namespace

    from pointhmr_mm.models.body_models import SMPL
    from toolbox import load_tool
    tool = load_tool('analysis/smoothing_jitter')
    args = Namespace(frames=40, fps=FPS, vertex_noise_mm=5.,
                     offset_noise_mm=15., pose_noise=0.03, seed=0,
                     transl_setting=(1., 10.))
    body = SMPL(str(body_model_dir / 'smpl'))
    rows = tool.evaluate(body, args, [(1., 0.), (1., 5.)])
    table = {(kind, setting): values for kind, setting, *values in rows}
    assert table[('truth', '-')][1:] == [0., 0.]
    for kind in tool.LABELS.values():
        raw = table[(kind, 'raw')]
        still = table[(kind, 'min_cutoff=1 Hz, beta=0')]
        fast = table[(kind, 'min_cutoff=1 Hz, beta=5')]
        assert still[0] < 0.5 * raw[0] and fast[0] < raw[0]
        assert still[2] > fast[2]
