"""A bias-free 1x1 convolution whose output is channels-first even when
its input is channels-last.

PointHMR's heatmap decoder ends in a 1x1 conv to V = 431 maps, whose
softmax over pixels needs each map contiguous: (B, V, H*W). With the
neck in channels-last (NHWC, the faster layout on AMX CPUs and GPUs) the
conv's output is NHWC too, and the softmax, its fp32 cast and their
backward made two transposing copies of the (B, V, H, W) map each way:
on a 2-core AMX Xeon about 0.15 s of a 2.5 s W32 training step
(torch.profiler, batch 4: 20-27 ms per copy, 431 channels defeat the
vectorised transpose). A 1x1 conv is a matrix product over channels, and
a GEMM reads a transposed operand for free, so here the product is taken
as (V, C) @ (B, C, H*W) from the NHWC input and writes NCHW directly; its
backward writes the input gradient in NHWC again. Written by hand
because no conv kernel takes the output layout as an argument.
"""
import torch
from torch import Tensor, nn


def _compute_dtype(x: Tensor) -> torch.dtype:
    """Autocast's dtype on ``x``'s device where autocast is on, else
    ``x``'s (a custom Function's ops are not autocast in backward)."""
    device = x.device.type
    if torch.is_autocast_enabled(device) and x.is_floating_point():
        return torch.get_autocast_dtype(device)
    return x.dtype


class _NHWCToNCHWPixelMix(torch.autograd.Function):
    """``out[b, o, p] = sum_c w[o, c] x[b, p, c]`` for NHWC ``x``, with
    ``out`` NCHW-contiguous and ``grad_x`` NHWC-contiguous."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor) -> Tensor:
        batch, channels, height, width = x.shape
        dtype = _compute_dtype(x)
        # (B, C, H, W) NHWC -> (B, H*W, C), a view
        pixels = x.to(dtype).permute(0, 2, 3, 1).reshape(
            batch, height * width, channels)
        # (O, C, 1, 1) -> (O, C)
        mix = weight.to(dtype).reshape(weight.shape[0], channels)
        # (O, C) @ (B, C, H*W) -> (B, O, H*W), contiguous
        out = torch.matmul(mix, pixels.transpose(1, 2))
        ctx.save_for_backward(pixels, mix)
        ctx.dtypes = (x.dtype, weight.dtype)
        ctx.weight_shape = weight.shape
        return out.view(batch, -1, height, width)

    @staticmethod
    def backward(ctx, grad: Tensor):
        pixels, mix = ctx.saved_tensors
        x_dtype, weight_dtype = ctx.dtypes
        batch, out_channels, height, width = grad.shape
        # (B, O, H, W) -> (B, O, H*W)
        grad = grad.to(mix.dtype).reshape(batch, out_channels, -1)
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            # (B, H*W, O) @ (O, C) -> (B, H*W, C), i.e. NHWC
            grad_pixels = torch.matmul(grad.transpose(1, 2), mix)
            # (B, H*W, C) -> (B, C, H, W) with NHWC strides, a view
            grad_x = grad_pixels.view(batch, height, width, -1).permute(
                0, 3, 1, 2).to(x_dtype)
        if ctx.needs_input_grad[1]:
            # (B, O, P) -> (O, B*P): one GEMM over all pixels (copies
            # whole rows of P, no transpose), (O, B*P) @ (B*P, C) -> (O, C)
            rows = grad.transpose(0, 1).reshape(out_channels, -1)
            grad_weight = torch.mm(rows, pixels.reshape(-1, pixels.shape[-1]))
            grad_weight = grad_weight.view(ctx.weight_shape).to(weight_dtype)
        return grad_x, grad_weight


class ChannelsFirstConv1x1(nn.Conv2d):
    """``nn.Conv2d(in_channels, out_channels, 1, bias=False)`` whose output
    is NCHW-contiguous also for a channels-last input (see the module
    docstring). Same parameters and state dict as the ``nn.Conv2d``; other
    inputs go through ``nn.Conv2d``.

    Args:
        in_channels: Input channels C.
        out_channels: Output channels O.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (B, C, H, W). Returns (B, O, H, W), NCHW-contiguous when
        ``x`` is channels-last, else laid out as ``nn.Conv2d`` lays it."""
        if (x.dim() == 4 and not x.is_contiguous()
                and x.is_contiguous(memory_format=torch.channels_last)):
            return _NHWCToNCHWPixelMix.apply(x, self.weight)
        return super().forward(x)
