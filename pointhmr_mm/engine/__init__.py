from .dist import init_gloo, setup_distributed
from .hooks import *  # noqa: F401,F403
from .log_processor import EpochLogProcessor
from .metrics_first_evaluator import MetricsFirstEvaluator
from .portable_amp_optim_wrapper import PortableAmpOptimWrapper
from .runner import (PointHMRRunner, build_runner, get_rng_states,
                     set_rng_states)
from .safe_load import allow_mmengine_checkpoints, checkpoint_safe_globals

__all__ = [
    'init_gloo', 'setup_distributed', 'EpochLogProcessor',
    'MetricsFirstEvaluator',
    'PortableAmpOptimWrapper', 'PointHMRRunner',
    'build_runner',
    'get_rng_states', 'set_rng_states',
    'allow_mmengine_checkpoints', 'checkpoint_safe_globals'
]
