from .pointhmr import PointHMR

__all__ = ['PointHMR']
