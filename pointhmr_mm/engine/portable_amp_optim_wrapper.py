"""mmengine's AMP optim wrapper, also on CPU (bf16 autocast)."""
from contextlib import contextmanager
from typing import Optional, Union

import torch
from mmengine.device import get_device
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.runner.amp import autocast

from pointhmr_mm.utils.cpu import cpu_bf16_pays
from pointhmr_mm.registry import OPTIM_WRAPPERS

AMP_CHOICES = (True, False, 'auto')
# bf16 keeps fp32's exponent range, so its gradients need no loss scaling.
UNSCALED_DTYPES = (torch.bfloat16, torch.float32, torch.float64)


@OPTIM_WRAPPERS.register_module()
class PortableAmpOptimWrapper(AmpOptimWrapper):
    """:class:`mmengine.optim.AmpOptimWrapper` that also runs on CPU.

    mmengine 0.10.7's wrapper asserts that a GPU exists, although its
    autocast context already supports CPU bf16. This subclass skips that
    assertion and, for bf16, replaces the loss scaler by a disabled one
    (``scale``/``step``/``update`` pass through). fp16 keeps mmengine's
    dynamic scaler and needs CUDA, as CPU autocast is bf16 only.

    Args:
        loss_scale: As :class:`AmpOptimWrapper` (used for fp16 only).
        dtype: Autocast dtype, ``'bfloat16'`` (default) or ``'float16'``.
        enabled: True, False (plain fp32 training through this wrapper) or
            ``'auto'``: on with CUDA or on a CPU with AMX or AVX-512 BF16,
            where bf16 pays (see :func:`cpu_bf16_pays`); off elsewhere,
            e.g. on an AVX2-only CPU, where bf16 is emulated.
        cache_enabled: Autocast's weight cache: True keeps the low-precision
            copy of every weight until the forward ends, also for modules
            under activation checkpointing, whose backward casts again
            anyway; False casts at each use (what the recipe configs set:
            W32 batch 4 on the AMX Xeon, 40-60 MB less peak RSS, no
            measurable time). None: torch's default (True).
        **kwargs: Passed to :class:`AmpOptimWrapper` / ``OptimWrapper``.
    """

    def __init__(self,
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 enabled: Union[bool, str] = True,
                 cache_enabled: Optional[bool] = None,
                 **kwargs):
        if enabled not in AMP_CHOICES:
            raise ValueError('PortableAmpOptimWrapper: enabled must be True, '
                             f'False or "auto", got {enabled!r}')
        if isinstance(dtype, str):
            if dtype not in self.valid_dtypes:
                raise ValueError(f'PortableAmpOptimWrapper: dtype must be '
                                 f'one of {self.valid_dtypes}, got {dtype!r}')
            dtype = getattr(torch, dtype)
        if cache_enabled not in (None, True, False):
            raise ValueError('PortableAmpOptimWrapper: cache_enabled must be '
                             f'True, False or None, got {cache_enabled!r}')
        self.cache_enabled = cache_enabled
        device = get_device()
        if enabled == 'auto':
            enabled = device == 'cuda' or cpu_bf16_pays()
        self.amp_enabled = bool(enabled)
        if not self.amp_enabled or dtype in UNSCALED_DTYPES:
            OptimWrapper.__init__(self, **kwargs)
            self._scale_update_param = None
            # None: AMP off, fp32 without autocast
            self.cast_dtype = dtype if self.amp_enabled else None
            self.loss_scaler = torch.amp.GradScaler(
                'cuda' if device == 'cuda' else 'cpu', enabled=False)
            return
        if device == 'cpu':
            raise ValueError(
                f'PortableAmpOptimWrapper: dtype {dtype} needs a GPU; CPU '
                "autocast supports only dtype='bfloat16'")
        super().__init__(loss_scale=loss_scale, dtype=dtype, **kwargs)

    def optim_context(self, model):
        """mmengine's AMP context on the model's device, or the plain one
        when AMP is off."""
        if not self.amp_enabled:
            return OptimWrapper.optim_context(self, model)
        return self._amp_context(model)

    @contextmanager
    def _amp_context(self, model):
        # mmengine autocasts on get_device(), i.e. CUDA whenever a GPU
        # exists, which leaves a model on the CPU of such a machine in fp32;
        # autocast where the model's parameters are instead.
        param = next(model.parameters(), None)
        device_type = param.device.type if param is not None else None
        with OptimWrapper.optim_context(self, model), autocast(
                device_type=device_type, dtype=self.cast_dtype,
                cache_enabled=self.cache_enabled):
            yield
