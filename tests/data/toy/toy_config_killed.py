# The toy run, killed (os._exit) right after the first epoch's checkpoint.
_base_ = ['./toy_config.py']
custom_imports = dict(imports=['toolbox.toy_modules', 'toolbox.kill_hook'])
custom_hooks = [dict(type='KillAfterEpochHook', epoch=1)]
