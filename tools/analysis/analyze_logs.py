"""Plot training curves and time runs from mmengine's JSON logs.

    python tools/analysis/analyze_logs.py plot_curve LOG.json [LOG2.json ...]
        [--keys loss mesh/MPJPE] [--legend run1 run2] [--title T]
        [--out curves.png]
    python tools/analysis/analyze_logs.py cal_train_time LOG.json [...]

``LOG.json`` is a run's ``<work dir>/<time>/vis_data/scalars.json`` (or
the ``<time>.json`` beside it): one JSON object per logged training step
or validation run. Training keys (losses, ``lr``) are plotted by
iteration; validation metrics by epoch (the ``epoch`` that
``EpochLogProcessor`` writes on validation lines; older logs' ``step``).
One panel per key, one line per run. Without ``--out`` the figure is
shown in a window.
"""
import argparse
import json
import os.path as osp
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

# Keys every line carries that are positions or timings, not curves.
POSITION_KEYS = ('step', 'epoch', 'iter')
TIME_KEYS = ('time', 'data_time')


def is_train_line(line: dict) -> bool:
    """Training lines carry the learning rate (``lr`` or ``<group>.lr``)
    and the losses; validation lines only metrics."""
    return any(k == 'lr' or k.endswith('.lr') for k in line)


def load_log(path: str) -> Tuple[List[dict], List[dict]]:
    """Training and validation lines of one JSON log.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A line is not a JSON object (naming file and line).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such log file')
    train, val = [], []
    with open(path) as f:
        for number, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}:{number}: not JSON ({err})') from err
            if not isinstance(line, dict):
                raise ValueError(f'{path}:{number}: expected a JSON object')
            (train if is_train_line(line) else val).append(line)
    return train, val


def curve(lines: Sequence[dict], key: str,
          position: str) -> Tuple[np.ndarray, np.ndarray]:
    """(x, y) of ``key`` over the lines that have it; x is ``position``
    (``iter`` or ``epoch``), else ``step``."""
    xs, ys = [], []
    for line in lines:
        if key in line:
            xs.append(line.get(position, line.get('step')))
            ys.append(line[key])
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


def collect_curves(logs: Sequence[str], keys: Sequence[str]
                   ) -> Dict[str, List[Tuple[str, np.ndarray, np.ndarray]]]:
    """{key: [(axis label, x, y) per log]}; a key no log has is an error.

    Raises:
        KeyError: A key is in no log (naming the keys the logs have).
    """
    curves = defaultdict(list)
    for path in logs:
        train, val = load_log(path)
        for key in keys:
            in_train = any(key in line for line in train)
            lines, position = (train, 'iter') if in_train else (val, 'epoch')
            curves[key].append((position, *curve(lines, key, position)))
    for key in keys:
        if all(len(x) == 0 for _, x, _ in curves[key]):
            known = set()
            for path in logs:
                for lines in load_log(path):
                    for line in lines:
                        known.update(line)
            known -= set(POSITION_KEYS + TIME_KEYS)
            raise KeyError(f'no log has "{key}"; they have '
                           f'{sorted(known)}')
    return curves


def run_name(path: str) -> str:
    """The work dir's name for ``<work dir>/<time>/vis_data/x.json``,
    else the file's name."""
    parts = Path(path).resolve().parts
    if len(parts) >= 4 and parts[-2] == 'vis_data':
        return parts[-4]
    return Path(path).stem


def plot_curve(args: argparse.Namespace) -> None:
    import matplotlib
    if args.out is not None:
        matplotlib.use('Agg')  # no display needed to write a file
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    legend = args.legend or [run_name(p) for p in args.json_logs]
    if len(legend) != len(args.json_logs):
        raise SystemExit(f'--legend has {len(legend)} names for '
                         f'{len(args.json_logs)} logs')
    try:
        curves = collect_curves(args.json_logs, args.keys)
    except (FileNotFoundError, KeyError, ValueError) as err:
        raise SystemExit(f'error: {err.args[0]}') from None
    fig, axes = plt.subplots(1, len(args.keys),
                             figsize=(5 * len(args.keys), 3.6),
                             squeeze=False)
    for ax, key in zip(axes[0], args.keys):
        for name, (position, x, y) in zip(legend, curves[key]):
            if len(x):
                ax.plot(x, y, marker='o' if position == 'epoch' else None,
                        markersize=4, label=name)
        ax.set_xlabel(curves[key][0][0])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(key)
        ax.grid(alpha=0.3)
        if len(args.json_logs) > 1:
            ax.legend()
    if args.title:
        fig.suptitle(args.title)
    fig.tight_layout()
    if args.out is None:
        plt.show()
    else:
        fig.savefig(args.out, dpi=args.dpi)
        print(f'wrote {args.out}')
    plt.close(fig)


def cal_train_time(args: argparse.Namespace) -> None:
    for path in args.json_logs:
        train, _ = load_log(path)
        times = np.array([line['time'] for line in train if 'time' in line])
        if len(times) == 0:
            raise SystemExit(f'error: {path} has no training "time"')
        print(f'{path}: {len(times)} logged steps, {times.mean():.4f} s a '
              f'step on average (slowest {times.max():.4f}, fastest '
              f'{times.min():.4f})')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Analyse JSON logs')
    commands = parser.add_subparsers(dest='command', required=True)
    plot = commands.add_parser('plot_curve', help='plot curves of keys')
    plot.add_argument('json_logs', nargs='+', help='scalars.json files')
    plot.add_argument('--keys', nargs='+', default=['loss'],
                      help='keys to plot, one panel each')
    plot.add_argument('--legend', nargs='+', help='a name per log')
    plot.add_argument('--title')
    plot.add_argument('--out', help='write the figure here (e.g. .png)')
    plot.add_argument('--dpi', type=int, default=100)
    timing = commands.add_parser('cal_train_time',
                                 help='average time of a training step')
    timing.add_argument('json_logs', nargs='+')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    dict(plot_curve=plot_curve, cal_train_time=cal_train_time)[
        args.command](args)


if __name__ == '__main__':
    main()
