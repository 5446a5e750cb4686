"""pointhmr_mm: PointHMR (CVPR 2023) as an OpenMMLab-style plugin."""
from .version import __version__

__all__ = ['__version__']
