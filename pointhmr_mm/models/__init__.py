from . import (body_models, data_preprocessors, estimators,  # noqa: F401
               heads, layers, losses, necks, task_modules, utils)
