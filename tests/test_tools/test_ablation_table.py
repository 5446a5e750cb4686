"""tools/analysis/ablation_table.py reads a run's held-out metrics and step
time from its scalars, and writes the table and the plot (no training)."""
import json
from pathlib import Path

import pytest

from toolbox import load_tool


def write_run(work_dir: Path, mpjpe_by_epoch, times):
    vis = work_dir / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    lines = [dict(loss=1., time=t, epoch=1, iter=10 * (i + 1))
             for i, t in enumerate(times)]
    lines += [{'mesh/MPJPE': m, 'mesh/PA-MPJPE': m / 2, 'mesh/MPVE': m + 1,
               'epoch': e + 1} for e, m in enumerate(mpjpe_by_epoch)]
    (vis / 'scalars.json').write_text(
        '\n'.join(json.dumps(line) for line in lines) + '\n')


def test_summary_table_and_plot(tmp_path):
    tool = load_tool('analysis/ablation_table')
    write_run(tmp_path / 'full', [150., 120.], [9., 0.5, 0.4, 0.6])
    summary = tool.summarise_run(tmp_path / 'full')
    # the last validation; the warm-up window is left out of the median
    assert summary['mesh/MPJPE'] == 120. and summary['epoch'] == 2
    assert summary['mesh/PA-MPJPE'] == 60. and summary['mesh/MPVE'] == 121.
    assert summary['train_step_s'] == pytest.approx(0.5)
    rows = [dict(label='PointHMR', flops=110.6e9, params=58.9e6, **summary),
            dict(label='Lite', flops=30.8e9, params=46.3e6,
                 train_step_s=None, **{'mesh/MPJPE': 125.})]
    table = tool.write_table(rows, tmp_path)
    assert '| PointHMR | 110.6 | 58.9 | 0.50 | 120.0 | 60.0 | 121.0 |' in table
    assert '| Lite | 30.8 | 46.3 | - | 125.0 | - | - |' in table
    assert (tmp_path / 'ablation.md').read_text() == table
    png = tool.plot(rows, tmp_path)
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_missing_runs_are_named(tmp_path):
    tool = load_tool('analysis/ablation_table')
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        tool.summarise_run(tmp_path)
    write_run(tmp_path / 'x', [], [1.])
    with pytest.raises(KeyError, match='MPJPE'):
        tool.summarise_run(tmp_path / 'x')
