"""The toy run: a linear model on 16 random samples, two epochs, for the
training machinery (runner, hooks, tools/train.py and tools/test.py).

Its configs are data files in ``tests/data/toy``; their ``custom_imports``
name ``toolbox.toy_modules`` (and ``toolbox.kill_hook``), which import
here and, through :func:`toolbox.subprocess_env`, in a tool's process.
"""
from mmengine.config import Config

from toolbox import TESTS, run_tool
from toolbox.kill_hook import EXIT_CODE as KILLED_EXIT_CODE  # noqa: F401

TOY = TESTS / 'data' / 'toy'
CONFIG = TOY / 'toy_config.py'
# The toy run killed (os._exit) right after its first epoch's checkpoint.
KILLED_CONFIG = TOY / 'toy_config_killed.py'


def toy_cfg(work_dir, name: str, **overrides) -> Config:
    """The toy config with its own work dir and experiment name.

    The name keeps the MessageHub, logger and visualizer of this run apart
    from other runs in the same process (mmengine keeps them by name).
    """
    cfg = Config.fromfile(str(CONFIG))
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = name
    cfg.visualizer = dict(type='Visualizer', name=name,
                          vis_backends=[dict(type='LocalVisBackend')])
    cfg.merge_from_dict(overrides)
    return cfg


def run_toy(tool: str, *args, config=CONFIG, **kwargs):
    """``tools/<tool>.py`` on the toy ``config`` (the tool's first
    argument), then ``args``, in a fresh Python (:func:`run_tool`)."""
    return run_tool(tool, config, *args, **kwargs)
