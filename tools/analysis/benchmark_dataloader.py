"""Images per second of a config's real training input pipeline.

    python tools/analysis/benchmark_dataloader.py CONFIG [--workers 0 1 2 4]
        [--batches 20] [--warmup 2] [--batch-size N] [--json OUT]
        [--cfg-options k=v ...]

For each worker count, the config's ``train_dataloader`` (its dataset,
pipeline, sampler and collate function: decode, augment, crop, pack) is
built by mmengine's ``Runner.build_dataloader`` and ``--batches`` batches are
drawn after ``--warmup``; images/s is the timed batches' images over their
wall time. Also reported: the share of each pipeline transform, timed one by
one on ``--profile-samples`` samples in this process, so a reader sees
whether decoding or augmentation is the limit. Divide a GPU's training
images/s by the best images/s per worker to size the loader's cores.

The config's data must exist (the quick start makes its own:
``python tools/train.py configs/quickstart/pointhmr_quickstart.py`` once,
or ``tools/make_synthetic_dataset.py``).
"""
import argparse
import json
import time
from pathlib import Path
from typing import Dict, List

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from pointhmr_mm.setup_env import register_all_modules
from pointhmr_mm.synthetic.quickstart import prepare_config_assets
from pointhmr_mm.utils.cpu import processor_name


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--batches', type=int, default=20,
                        help='timed batches per worker count')
    parser.add_argument('--warmup', type=int, default=2,
                        help='batches drawn before timing (worker start-up)')
    parser.add_argument('--batch-size', type=int,
                        help="default: the config's train batch size")
    parser.add_argument('--profile-samples', type=int, default=20,
                        help='samples for the per-transform breakdown (0: '
                        'none)')
    parser.add_argument('--json', help='write the results here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if min(args.workers) < 0 or args.batches < 1 or args.warmup < 0:
        parser.error('--workers must be >= 0, --batches >= 1, --warmup >= 0')
    return args


def loader_cfg(cfg: Config, workers: int, batch_size) -> dict:
    """The config's train dataloader with ``workers`` processes and no
    persistent workers (each count starts its own)."""
    loader = cfg.train_dataloader.copy()
    loader['num_workers'] = workers
    loader['persistent_workers'] = False
    if batch_size:
        loader['batch_size'] = batch_size
    return loader


def time_loader(cfg: Config, workers: int, args) -> Dict[str, float]:
    loader = Runner.build_dataloader(
        loader_cfg(cfg, workers, args.batch_size),
        seed=cfg.get('randomness', {}).get('seed'))
    needed = args.warmup + args.batches
    if len(loader) < needed:
        raise ValueError(f'the train dataloader has {len(loader)} batches; '
                         f'--warmup + --batches needs {needed}')
    batches = iter(loader)
    for _ in range(args.warmup):
        next(batches)
    images, start = 0, time.perf_counter()
    for _ in range(args.batches):
        images += len(next(batches)['inputs'])
    seconds = time.perf_counter() - start
    del batches
    return dict(workers=workers, images=images, seconds=seconds,
                images_per_s=images / seconds,
                images_per_s_per_worker=images / seconds / max(workers, 1))


def profile_transforms(cfg: Config, samples: int) -> List[dict]:
    """Mean seconds of each pipeline transform over ``samples`` samples,
    run in this process."""
    dataset = Runner.build_dataloader(loader_cfg(cfg, 0, 1)).dataset
    transforms = dataset.pipeline.transforms
    totals = [0.] * len(transforms)
    for idx in range(min(samples, len(dataset))):
        results = dataset.get_data_info(idx)
        for t, transform in enumerate(transforms):
            start = time.perf_counter()
            results = transform(results)
            totals[t] += time.perf_counter() - start
    count = max(min(samples, len(dataset)), 1)
    whole = sum(totals) or 1.
    return [dict(transform=type(t).__name__, seconds=s / count,
                 share=s / whole) for t, s in zip(transforms, totals)]


def main(argv=None) -> int:
    args = parse_args(argv)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'pointhmr_mm'))
    prepare_config_assets(cfg)  # the quick start's data, if absent
    result = dict(config=args.config, processor=processor_name(), runs=[],
                  transforms=[])
    for workers in args.workers:
        run = time_loader(cfg, workers, args)
        result['runs'].append(run)
        print(f"workers {workers}: {run['images_per_s']:.1f} images/s "
              f"({run['images_per_s_per_worker']:.1f} per worker)")
    if args.profile_samples:
        result['transforms'] = profile_transforms(cfg, args.profile_samples)
        for row in result['transforms']:
            print(f"  {row['transform']:<24} {1000 * row['seconds']:8.2f} ms"
                  f"  {100 * row['share']:5.1f}%")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
