"""Build toy runs in the test process."""
import sys
from pathlib import Path

from mmengine.config import Config

TOY = Path(__file__).parent
CONFIG = TOY / 'toy_config.py'
if str(TOY) not in sys.path:  # the config's custom_imports name toy_modules
    sys.path.insert(0, str(TOY))


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
