"""The ground floor: pure helpers that import nothing else of pointhmr_mm."""
from .safe_pickle import UnsafePickleError, load_npz, load_pickle

__all__ = ['UnsafePickleError', 'load_npz', 'load_pickle']
