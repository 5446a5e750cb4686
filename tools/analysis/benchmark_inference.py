"""Images per second of ``MeshInferencer`` at several batch sizes (crops of
consecutive images share a forward pass).

    python tools/analysis/benchmark_inference.py CONFIG [CKPT]
        [--images 32] [--batch-sizes 1 4 16] [--size 512]
        [--people 1] [--threads N] [--device cpu]

Each of ``--images`` in-memory BGR images (scikit-image's astronaut,
resized to ``--size``) holds ``--people`` given boxes; nothing is drawn or
written, so the numbers are decoding-free model + pipeline + record
throughput. One untimed warm-up image precedes each batch size. Weights
do not change the speed: without CKPT the model is randomly initialised.
"""
import argparse
import sys
import time

import cv2
import numpy as np
import torch

from pointhmr_mm.apis import MeshInferencer


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?')
    parser.add_argument('--images', type=int, default=32)
    parser.add_argument('--batch-sizes', type=int, nargs='+',
                        default=[1, 4, 16])
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--people', type=int, default=1,
                        help='boxes per image')
    parser.add_argument('--threads', type=int,
                        help='torch threads (default: torch\'s)')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def make_inputs(count: int, size: int, people: int):
    """(images, boxes): ``count`` BGR images and ``people`` side-by-side
    boxes each."""
    from skimage import data
    image = cv2.resize(np.ascontiguousarray(data.astronaut()[..., ::-1]),
                       (size, size))
    width = size / people
    boxes = [[k * width, 0., (k + 1) * width, float(size)]
             for k in range(people)]
    return [image.copy() for _ in range(count)], boxes


def run(inferencer: MeshInferencer, images, boxes, batch_size: int) -> float:
    """Seconds for all images at ``batch_size`` crops a pass."""
    per_file = {f'array_{k}': boxes for k in range(len(images))}
    list(inferencer(images[:1], bboxes=per_file, batch_size=batch_size))
    start = time.perf_counter()
    results = list(inferencer(images, bboxes=per_file,
                              batch_size=batch_size))
    elapsed = time.perf_counter() - start
    assert len(results) == len(images)
    return elapsed


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    inferencer = MeshInferencer(args.config, args.checkpoint,
                                device=args.device)
    images, boxes = make_inputs(args.images, args.size, args.people)
    print(f'{args.images} images of {args.size} px, {args.people} '
          f'person(s) each, {torch.get_num_threads()} torch thread(s), '
          f'{args.device}')
    print('| batch size (crops) | images/s | crops/s |')
    print('|---|---|---|')
    for batch_size in args.batch_sizes:
        seconds = run(inferencer, images, boxes, batch_size)
        rate = args.images / seconds
        print(f'| {batch_size} | {rate:.1f} | {rate * args.people:.1f} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
