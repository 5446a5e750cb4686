"""An evaluator that saves the metrics before it writes any other file."""
import json
import logging
from typing import Optional, Sequence, Union

from mmengine.dist import is_main_process
from mmengine.evaluator import Evaluator
from mmengine.logging import print_log

from pointhmr_mm.registry import EVALUATOR
from pointhmr_mm.utils.atomic_io import write_text_atomically


def writes_files(metric) -> bool:
    """Whether ``metric`` is a writer (``DumpResults``,
    ``DumpMeshResults``: an ``out_file_path``, no scores)."""
    return hasattr(metric, 'out_file_path')


def _plain(value):
    """JSON-compatible numbers (numpy and torch scalars have ``item``)."""
    return value.item() if hasattr(value, 'item') else value


@EVALUATOR.register_module()
class MetricsFirstEvaluator(Evaluator):
    """mmengine's ``Evaluator`` that computes the scoring metrics first,
    prints them and writes them to ``metrics_file``, and only then runs the
    metrics that write files (``--out``, ``--dump``).

    Plain ``Evaluator`` returns the metrics only after every metric has
    run, so a dump into an unwritable place lost an evaluation that had
    taken the whole test set. Here such an error still ends the run, after
    the scores are safe.

    Args:
        metrics: As ``Evaluator`` (configs or metric objects).
        metrics_file: JSON file for the scores (written on the main
            process; atomically), or None.
        header: Extra entries of that JSON (e.g. the checkpoint's path).
    """

    def __init__(self, metrics: Union[dict, Sequence],
                 metrics_file: Optional[str] = None,
                 header: Optional[dict] = None) -> None:
        super().__init__(metrics)
        self.metrics_file = metrics_file
        self.header = dict(header or {})

    def evaluate(self, size: int) -> dict:
        """As ``Evaluator.evaluate``, in the order above.

        Returns:
            dict: The metrics of all scoring metrics.
        """
        scoring = [m for m in self.metrics if not writes_files(m)]
        writers = [m for m in self.metrics if writes_files(m)]
        metrics = {}
        for metric in scoring:
            results = metric.evaluate(size)
            clash = sorted(set(results) & set(metrics))
            if clash:
                raise ValueError(f'metrics {clash} are reported twice; give '
                                 'the metrics different prefixes')
            metrics.update(results)
        self._save(metrics)
        for metric in writers:
            try:
                metric.evaluate(size)
            except BaseException:
                print_log(f'writing {metric.out_file_path} failed; the '
                          f'metrics are in {self.metrics_file}',
                          logger='current', level=logging.ERROR)
                raise
        return metrics

    def _save(self, metrics: dict) -> None:
        """Print the scores and write ``metrics_file``."""
        if not is_main_process():
            return
        text = ', '.join(f'{k}: {_plain(v)}' for k, v in metrics.items())
        print_log(f'metrics: {text}', logger='current')
        if self.metrics_file is None:
            return
        record = dict(self.header, metrics={
            k: _plain(v) for k, v in metrics.items()})
        write_text_atomically(self.metrics_file,
                              json.dumps(record, indent=1) + '\n')
        print_log(f'metrics written to {self.metrics_file}',
                  logger='current')
