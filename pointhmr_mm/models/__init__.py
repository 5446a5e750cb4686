from . import estimators, heads, layers, losses, necks  # noqa: F401
