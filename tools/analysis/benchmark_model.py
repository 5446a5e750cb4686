"""Speed and memory of a PointHMR config's forward pass.

    python tools/analysis/benchmark_model.py configs/quickstart/pointhmr_quickstart.py \
        [--batch-size 1] [--iters 10] [--image-size S] [--device cpu|cuda]
        [--cfg-options ...]

Prints parameters and FLOPs per part (``get_flops.py``), mean latency
(ms/image) and peak memory (CUDA: allocator peak; CPU: growth of the
process's peak RSS). The crop size is the config's unless ``--image-size``
says otherwise.
"""
import argparse
import resource
import tempfile
import time

import torch
from mmengine.config import DictAction

from get_flops import build_measured_model, load_config, measure, report
from pointhmr_mm.apis.inference import crop_size_of

WARMUP_ITERS = 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--image-size', type=int,
                        help="crop side; default: the config's")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    cfg = load_config(args.config, args.cfg_options)
    args.image_size = args.image_size or crop_size_of(cfg)
    with tempfile.TemporaryDirectory() as tmp_dir:
        model = build_measured_model(cfg, tmp_dir)
    print(report(measure(model, cfg, args.image_size)))
    model = model.to(args.device)
    images = torch.randn(args.batch_size, 3, args.image_size,
                         args.image_size, device=args.device)
    cuda = args.device.startswith('cuda')
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        for i in range(WARMUP_ITERS + args.iters):
            if i == WARMUP_ITERS:
                if cuda:
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                start = time.perf_counter()
            model(images, mode='tensor')
        if cuda:
            torch.cuda.synchronize()
    elapsed = (time.perf_counter() - start) / args.iters / args.batch_size
    print(f'latency   {elapsed * 1e3:8.1f} ms/image (batch '
          f'{args.batch_size}, {args.device})')
    if cuda:
        print(f'memory    {torch.cuda.max_memory_allocated() / 2**20:8.1f} '
              'MiB peak allocated')
    else:
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - \
            rss_before
        print(f'memory    {grown / 1024:8.1f} MiB peak RSS growth')


if __name__ == '__main__':
    main()
