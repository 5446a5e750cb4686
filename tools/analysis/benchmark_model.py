"""Speed and memory of a PointHMR config's forward pass.

    python tools/analysis/benchmark_model.py configs/quickstart/pointhmr_quickstart.py \
        [--batch-size 1] [--iters 10] [--device cpu|cuda] [--cfg-options ...]

Prints parameters per part, mean latency (ms/image) and peak memory (CUDA:
allocator peak; CPU: growth of the process's peak RSS).
"""
import argparse
import resource
import time

import torch
from mmengine.config import Config, DictAction

from pointhmr_mm.registry import MODELS
from pointhmr_mm.utils import register_all_modules

WARMUP_ITERS = 2


def count(module):
    return sum(p.numel() for p in module.parameters()) / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--image-size', type=int, default=224)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = MODELS.build(cfg.model).to(args.device).eval()
    for name in ('backbone', 'neck', 'head'):
        print(f'{name:9s} {count(getattr(model, name)):8.2f} M params')
    print(f'{"total":9s} {count(model):8.2f} M params')
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
