"""Import every registering module and set the default scope."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import all modules of pointhmr_mm so that they register themselves.

    Configs with ``default_scope='pointhmr_mm'`` do not need this (the
    registries import lazily through ``locations``); scripts that build
    components by hand do.

    Args:
        init_default_scope: Whether to make ``pointhmr_mm`` the default scope.
    """
    import pointhmr_mm.datasets  # noqa: F401
    import pointhmr_mm.engine  # noqa: F401
    import pointhmr_mm.evaluation  # noqa: F401
    import pointhmr_mm.models  # noqa: F401
    import pointhmr_mm.visualization  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created(
            'pointhmr_mm'):
        DefaultScope.get_instance('pointhmr_mm', scope_name='pointhmr_mm')
    elif current.scope_name != 'pointhmr_mm':
        warnings.warn(f'The current default scope "{current.scope_name}" '
                      'is not "pointhmr_mm"; register_all_modules makes a '
                      'new default scope named pointhmr_mm-<time>.')
        name = f'pointhmr_mm-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name='pointhmr_mm')
