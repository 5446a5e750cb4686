from .assets import prepare_config_assets
from .safe_pickle import UnsafePickleError, load_npz, load_pickle
from .setup_env import register_all_modules

__all__ = [
    'prepare_config_assets', 'register_all_modules', 'UnsafePickleError',
    'load_npz', 'load_pickle'
]
