"""What this processor offers, and the 'auto' rules built on it.

Every rule names the measurement behind it (DEVELOPERS.md, docs/benchmarks.md).
"""
import platform
from typing import Union

import torch


def processor_name() -> str:
    """The CPU's model name (Linux), else the platform's: results depend
    on it (AMX, AVX-512 BF16), so they are reported with it."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


CHANNELS_LAST_CHOICES = (True, False, 'auto')


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles (oneDNN's bf16/int8 matrix units)."""
    try:  # a private torch helper, absent from some builds
        return bool(torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_has_avx512_bf16() -> bool:
    """Whether this CPU has AVX-512 BF16 (bf16 dot products in vector
    registers)."""
    try:  # a private torch helper, absent from some builds
        return bool(torch.cpu._is_avx512_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_bf16_pays() -> bool:
    """Whether bf16 autocast is faster than fp32 on this CPU: with AMX or
    AVX-512 BF16 (benchmark_train_step.py, W32 batch 4, 2 threads: 2.62 s
    against 7.34 s a step on an AMX Xeon, 2.62 s against 7.96 s on an AMD
    EPYC with AVX-512 BF16). Without either, bf16 is emulated."""
    return cpu_has_amx() or cpu_has_avx512_bf16()


def resolve_channels_last(setting: Union[bool, str]) -> bool:
    """``True``/``False``, or ``'auto'``: channels-last (NHWC) where its
    convolutions are measured faster, i.e. with CUDA or on a CPU with AMX
    (a 64 -> 512 channel 3x3 conv at 56 px, forward + backward, on an
    Intel Xeon with AMX: 270 ms NCHW fp32, 79 ms channels-last fp32, 15 ms
    channels-last bf16; on an AMD EPYC with AVX-512 BF16 but no AMX it was
    slower; see DEVELOPERS.md)."""
    if setting not in CHANNELS_LAST_CHOICES:
        raise ValueError('channels_last must be True, False or "auto", got '
                         f'{setting!r}')
    if setting == 'auto':
        return torch.cuda.is_available() or cpu_has_amx()
    return bool(setting)
