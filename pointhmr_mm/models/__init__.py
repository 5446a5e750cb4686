from . import (body_models, estimators, heads, layers, losses,  # noqa: F401
               necks, utils)
