"""ChannelsFirstConv1x1: a 1x1 conv with an NCHW output from an NHWC
input (``layers/pixel_mix.py``)."""
import pytest
import torch
from torch import nn

from pointhmr_mm.models.layers import ChannelsFirstConv1x1, make_basic_decoder


def _pair(in_channels=12, out_channels=7):
    torch.manual_seed(0)
    ours = ChannelsFirstConv1x1(in_channels, out_channels)
    conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
    conv.load_state_dict(ours.state_dict())
    return ours, conv


def _nhwc(*shape):
    return torch.randn(*shape).contiguous(memory_format=torch.channels_last)


def test_state_dict_is_the_conv_one():
    ours, conv = _pair()
    assert ours.state_dict().keys() == conv.state_dict().keys()
    assert ours.weight.shape == (7, 12, 1, 1) and ours.bias is None


def test_nhwc_input_gives_nchw_output_equal_to_the_conv():
    ours, conv = _pair()
    x = _nhwc(2, 12, 5, 6).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    out, ref = ours(x), conv(x_ref)
    assert out.is_contiguous()  # NCHW, whatever the input layout
    assert ref.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, ref)
    grad = torch.randn_like(ref)
    out.backward(grad)
    ref.backward(grad)
    torch.testing.assert_close(x.grad, x_ref.grad)
    # the input gradient keeps the input's NHWC layout
    assert x.grad.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(ours.weight.grad, conv.weight.grad)


def test_nchw_input_is_the_plain_conv():
    ours, conv = _pair()
    x = torch.randn(2, 12, 5, 6)
    out = ours(x)
    assert out.is_contiguous()
    torch.testing.assert_close(out, conv(x))


def test_bf16_autocast_matches_the_conv():
    ours, conv = _pair(32, 16)
    x = _nhwc(2, 32, 8, 8).requires_grad_()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out, ref = ours(x), conv(x)
    assert out.dtype == ref.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref.float(), atol=2e-2,
                               rtol=2e-2)
    out.float().sum().backward()
    assert x.grad.dtype == torch.float32
    assert ours.weight.grad.dtype == torch.float32


@pytest.mark.parametrize('channels_first_output', [True, False])
def test_decoder_final_conv(channels_first_output):
    decoder = make_basic_decoder(
        4, 6, 1, channels_first_output=channels_first_output).to(
            memory_format=torch.channels_last)
    final = decoder[-1]
    assert isinstance(final, ChannelsFirstConv1x1) == channels_first_output
    out = decoder.eval()(_nhwc(1, 4, 3, 3))
    assert out.is_contiguous() == channels_first_output
