from .assets import prepare_config_assets
from .setup_env import register_all_modules

__all__ = ['prepare_config_assets', 'register_all_modules']
