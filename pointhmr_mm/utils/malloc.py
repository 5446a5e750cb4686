"""glibc malloc settings that stop a CPU training step from faulting in
fresh pages for every large tensor.

PyTorch's CPU allocator takes each tensor from the C library's
``malloc``. glibc serves large blocks by ``mmap`` (its threshold adapts
only up to 32 MB) and gives the top of its heap back to the kernel once
more than a threshold is free there, so a training step, which frees and
allocates the same large activations every iteration, gets new pages
each time, and the kernel zeroes every page on first touch. On a 2-core
AMX Xeon (W32, 224 px, batch 4, bf16; ``benchmark_train_step.py``'s
``train_minor_faults_per_step``) that was 39-111 k page faults a timed
step; with both thresholds raised freed memory is reused, and the 15 k
left are the heap still growing in the first steps (a few hundred a step
once it has). Peak RSS is unchanged: the heap is kept at the size the
peak needs anyway. PyTorch's CPU tuning guide
gets the same by preloading jemalloc or tcmalloc; glibc's ``mallopt``
needs no extra library and applies inside the running process. This is
``env_cfg.malloc_cfg`` in the configs (``configs/_base_/
default_runtime.py``), applied by ``PointHMRRunner`` and by
``tools/analysis/benchmark_train_step.py``; ``malloc_cfg=None`` keeps
glibc's defaults.
"""
import ctypes
import platform
import warnings
from typing import Optional

# mallopt parameter numbers from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
INT_MAX = 2**31 - 1  # mallopt takes a C int
_PARAMS = dict(trim_threshold=M_TRIM_THRESHOLD,
               mmap_threshold=M_MMAP_THRESHOLD)


def _glibc() -> Optional[ctypes.CDLL]:
    """The running glibc, or None with another C library (musl, macOS,
    Windows)."""
    if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
        return None
    try:
        return ctypes.CDLL('libc.so.6')
    except OSError:
        return None


def configure_malloc(mmap_threshold: Optional[int] = None,
                     trim_threshold: Optional[int] = None) -> dict:
    """Set glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` for this
    process (and the processes it forks later).

    Args:
        mmap_threshold: Bytes from which an allocation gets its own
            ``mmap`` (returned to the kernel when freed) instead of heap
            memory; setting it also turns off glibc's adaptive threshold.
            None: unchanged.
        trim_threshold: Bytes of free memory at the top of the heap above
            which glibc returns it to the kernel. None: unchanged.

    Returns:
        dict: The settings applied, by name; empty where the C library is
        not glibc (nothing is changed there).

    Raises:
        ValueError: If a threshold is not an int in [1, 2**31 - 1],
            naming it.
    """
    requested = dict(mmap_threshold=mmap_threshold,
                     trim_threshold=trim_threshold)
    for name, value in requested.items():
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, int)
                                  or not 0 < value <= INT_MAX):
            raise ValueError(f'malloc_cfg.{name} must be an int in [1, '
                             f'2**31 - 1] (bytes) or None, got {value!r}')
    libc = _glibc()
    if libc is None:
        return {}
    applied = {}
    for name, value in requested.items():
        if value is None:
            continue
        if libc.mallopt(_PARAMS[name], ctypes.c_int(value)) == 1:
            applied[name] = value
        else:  # glibc refuses e.g. an mmap threshold above its maximum
            warnings.warn(f'malloc_cfg.{name}={value}: glibc refused it; '
                          'its default stays')
    return applied


def configure_malloc_from_cfg(malloc_cfg: Optional[dict]) -> dict:
    """:func:`configure_malloc` from a config's ``env_cfg.malloc_cfg``
    (None: nothing to do).

    Raises:
        ValueError: If ``malloc_cfg`` is not a dict or has unknown keys.
    """
    if malloc_cfg is None:
        return {}
    if not isinstance(malloc_cfg, dict):
        raise ValueError('env_cfg.malloc_cfg must be a dict or None, got '
                         f'{type(malloc_cfg).__name__}')
    unknown = sorted(set(malloc_cfg) - set(_PARAMS))
    if unknown:
        raise ValueError(f'env_cfg.malloc_cfg has unknown keys {unknown}; '
                         f'known: {sorted(_PARAMS)}')
    return configure_malloc(**malloc_cfg)
