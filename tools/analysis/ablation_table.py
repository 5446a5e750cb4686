"""Train the quick-start recipe for each ablation variant; tabulate and plot.

    python tools/analysis/ablation_table.py [--out-dir work_dirs/ablation]
        [--lock /tmp/pointhmr_cpu.lock] [--only NAME ...] [--retrain]
        [--no-train] [--threads N]

Each variant is trained with ``tools/train.py`` on the quick start's data
into ``OUT/NAME`` (a variant with ``OUT/NAME/result.json`` is not trained
again unless ``--retrain``; delete the folder, or pass ``--retrain``, when
the quick-start data change). Its held-out MPJPE / PA-MPJPE / MPVE are the
last validation of the run, its step time the median of the logged
training iterations (the quick start's batch and crop). FLOPs and
parameters are those of its twin at W32 scale and 224 px (forward, batch
1, ``torch.utils.flop_counter``; SMPL-sized stand-in body model where
SMPL is absent). Writes ``OUT/ablation.md``, ``OUT/ablation.json`` and
``OUT/mpjpe_vs_flops.png``. With ``--lock`` each training and the FLOPs
count hold that file lock (``flock``), so other heavy jobs wait. ``--threads`` sets the trainings'
``OMP_NUM_THREADS``: on a machine shared with other torch processes one
thread each avoids OpenMP threads spinning against each other (measured:
a quick-start step took 1.3 s with one thread and 7-14 s with two while
other jobs ran).
"""
import argparse
import contextlib
import fcntl
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = 'configs/quickstart/pointhmr_quickstart.py'
W32 = 'configs/pointhmr_hrnet_w32.py'
VARIANTS = (
    dict(name='full', label='PointHMR', quickstart=QUICKSTART, w32=W32),
    dict(name='full_bf16', label='PointHMR, bf16 autocast',
         quickstart=QUICKSTART, w32=W32, train_args=('--amp', )),
    dict(name='lite', label='PointHMR-Lite',
         quickstart='configs/quickstart/pointhmr_lite_quickstart.py',
         w32='configs/pointhmr_lite_hrnet_w32.py'),
    dict(name='grid_only', label='grid tokens only (no sampling)',
         quickstart='configs/ablations/pointhmr_quickstart_grid_only.py',
         w32='configs/ablations/pointhmr_hrnet_w32_grid_only.py'),
    dict(name='no_mask', label='no k-hop masks',
         quickstart='configs/ablations/pointhmr_quickstart_no_mask.py',
         w32='configs/ablations/pointhmr_hrnet_w32_no_mask.py'),
    dict(name='lite_28px', label='PointHMR-Lite, 28 px maps',
         quickstart='configs/ablations/pointhmr_lite_quickstart_28px.py',
         w32='configs/ablations/pointhmr_lite_hrnet_w32_28px.py'),
)
METRICS = ('mesh/MPJPE', 'mesh/PA-MPJPE', 'mesh/MPVE')
SKIPPED_LOG_LINES = 1  # the first logged window holds the warm-up


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out-dir', default='work_dirs/ablation')
    parser.add_argument('--lock', help='flock this file around heavy work')
    parser.add_argument('--only', nargs='+',
                        choices=[v['name'] for v in VARIANTS],
                        help='variants to train and tabulate (default all)')
    parser.add_argument('--retrain', action='store_true',
                        help='train again even where a result exists')
    parser.add_argument('--no-train', action='store_true',
                        help='tabulate the existing results only')
    parser.add_argument('--threads', type=int,
                        help="OMP_NUM_THREADS of the trainings (default: "
                        "inherited)")
    return parser.parse_args(argv)


@contextlib.contextmanager
def cpu_lock(path):
    """Hold an exclusive ``flock`` on ``path`` (no-op for None)."""
    if path is None:
        yield
        return
    with open(path, 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_scalars(work_dir: Path) -> list:
    """The records of the newest run's ``vis_data/scalars.json``."""
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json in {work_dir}')
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def summarise_run(work_dir: Path) -> dict:
    """Last held-out metrics and the median logged step time of a run."""
    records = read_scalars(work_dir)
    vals = [r for r in records if METRICS[0] in r]
    if not vals:
        raise KeyError(f'{work_dir}: no validation with {METRICS[0]}')
    times = [r['time'] for r in records if 'loss' in r and 'time' in r]
    times = times[SKIPPED_LOG_LINES:] or times
    result = {key: vals[-1][key] for key in METRICS if key in vals[-1]}
    result.update(epoch=vals[-1].get('epoch'),
                  train_step_s=statistics.median(times) if times else None)
    return result


def train(variant: dict, out_dir: Path, lock, threads=None) -> None:
    work_dir = out_dir / variant['name']
    cmd = [sys.executable, str(ROOT / 'tools' / 'train.py'),
           str(ROOT / variant['quickstart']), '--work-dir', str(work_dir),
           *variant.get('train_args', ())]
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    print(' '.join(cmd), flush=True)
    with cpu_lock(lock):
        subprocess.run(cmd, cwd=ROOT, env=env, check=True)
    result = summarise_run(work_dir)
    result.update(config=variant['quickstart'],
                  train_args=list(variant.get('train_args', ())),
                  threads=threads)
    (work_dir / 'result.json').write_text(json.dumps(result, indent=2))


def w32_costs(variants, lock) -> dict:
    """FLOPs per image and parameters of each W32 twin at 224 px."""
    import torch
    from mmengine.config import Config

    from pointhmr_mm.registry import MODELS
    from pointhmr_mm.setup_env import register_all_modules
    from pointhmr_mm.testing.benchmark import (count_parameters, forward_flops,
                                               make_stand_in_body_model,
                                               missing_body_model_files,
                                               point_model_at_stand_in)
    register_all_modules()
    costs = {}
    with cpu_lock(lock), tempfile.TemporaryDirectory() as tmp:
        files = None
        for config in sorted({v['w32'] for v in variants}):
            model_cfg = Config.fromfile(str(ROOT / config)).model
            if missing_body_model_files(model_cfg):
                files = files or make_stand_in_body_model(Path(tmp))
                model_cfg = point_model_at_stand_in(model_cfg, files)
            model = MODELS.build(model_cfg).eval()
            flops, _ = forward_flops(model, torch.randn(1, 3, 224, 224))
            costs[config] = dict(flops=flops,
                                 params=count_parameters(model))
            print(f'{config}: {flops / 1e9:.2f} GFLOPs', flush=True)
    return costs


def write_table(rows: list, out_dir: Path) -> str:
    lines = [
        '| variant | GFLOPs (W32, 224 px) | params (M) | quick-start step (s) '
        '| MPJPE (mm) | PA-MPJPE (mm) | MPVE (mm) |',
        '|---|---|---|---|---|---|---|'
    ]
    for row in rows:
        step = row.get('train_step_s')
        lines.append(
            f"| {row['label']} | {row['flops'] / 1e9:.1f} | "
            f"{row['params'] / 1e6:.1f} | "
            f"{'-' if step is None else f'{step:.2f}'} | "
            + ' | '.join(f"{row[k]:.1f}" if k in row else '-'
                         for k in METRICS) + ' |')
    table = '\n'.join(lines) + '\n'
    (out_dir / 'ablation.md').write_text(table)
    (out_dir / 'ablation.json').write_text(json.dumps(rows, indent=2))
    return table


def plot(rows: list, out_dir: Path) -> Path:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        x, y = row['flops'] / 1e9, row[METRICS[0]]
        ax.scatter(x, y)
        ax.annotate(row['label'], (x, y), textcoords='offset points',
                    xytext=(5, 4), fontsize=8)
    ax.set_xlabel('forward GFLOPs per image (W32 scale, 224 px)')
    ax.set_ylabel('held-out MPJPE (mm), quick start')
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out_dir / 'mpjpe_vs_flops.png'
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    variants = [v for v in VARIANTS
                if not args.only or v['name'] in args.only]
    if not args.no_train:
        for variant in variants:
            if args.retrain or not (out_dir / variant['name'] /
                                    'result.json').exists():
                train(variant, out_dir, args.lock, args.threads)
    costs = w32_costs(variants, args.lock)
    rows = []
    for variant in variants:
        path = out_dir / variant['name'] / 'result.json'
        if not path.exists():
            print(f'{variant["name"]}: no result yet ({path})')
            continue
        row = dict(name=variant['name'], label=variant['label'],
                   w32_config=variant['w32'], **costs[variant['w32']])
        row.update(json.loads(path.read_text()))
        rows.append(row)
    if not rows:
        print('no results to tabulate')
        return 1
    print(write_table(rows, out_dir))
    print(f'plot: {plot(rows, out_dir)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
