"""Speed of the software renderer on a full-size mannequin.

    python tools/analysis/benchmark_renderer.py [--sizes 224 512 1024]
"""
import argparse
import time

from pointhmr_mm.models.body_models.mannequin import generate_mannequin
from pointhmr_mm.visualization import MeshRenderer, perspective_to_screen

FOCAL_PER_PIXEL = 2.2  # focal length in units of image size
DISTANCE = 3.  # metres from the camera


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[224, 512, 1024])
    parser.add_argument('--vertices', type=int, default=6890)
    parser.add_argument('--iters', type=int, default=5)
    args = parser.parse_args()
    body = generate_mannequin(args.vertices)
    print(f'{len(body["f"])} faces')
    for size in args.sizes:
        screen = perspective_to_screen(
            body['v_template'] + [0., 0., DISTANCE],
            (FOCAL_PER_PIXEL * size, ) * 2, (size / 2, size / 2))
        renderer = MeshRenderer(size)
        renderer.render(screen, body['f'])
        start = time.perf_counter()
        for _ in range(args.iters):
            renderer.render(screen, body['f'])
        ms = (time.perf_counter() - start) / args.iters * 1e3
        print(f'{size:5d} px: {ms:7.1f} ms/frame')


if __name__ == '__main__':
    main()
