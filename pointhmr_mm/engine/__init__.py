from .dist import setup_distributed
from .hooks import *  # noqa: F401,F403
from .runner import PointHMRRunner, get_rng_states, set_rng_states
from .safe_load import allow_mmengine_checkpoints

__all__ = [
    'setup_distributed', 'PointHMRRunner', 'get_rng_states',
    'set_rng_states', 'allow_mmengine_checkpoints'
]
