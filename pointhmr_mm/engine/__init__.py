from .dist import init_gloo, setup_distributed
from .hooks import *  # noqa: F401,F403
from .log_processor import EpochLogProcessor
from .portable_amp_optim_wrapper import PortableAmpOptimWrapper
from .runner import (PointHMRRunner, build_runner, get_rng_states,
                     set_rng_states, write_atomically,
                     write_text_atomically)
from .safe_load import allow_mmengine_checkpoints, checkpoint_safe_globals

__all__ = [
    'init_gloo', 'setup_distributed', 'EpochLogProcessor',
    'PortableAmpOptimWrapper', 'PointHMRRunner',
    'build_runner',
    'get_rng_states', 'set_rng_states', 'write_atomically',
    'write_text_atomically',
    'allow_mmengine_checkpoints', 'checkpoint_safe_globals'
]
