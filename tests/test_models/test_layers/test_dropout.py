"""The CPU dropout with the cheaper mask (``layers/dropout.py``)."""
import pytest
import torch
import torch.nn.functional as F

from pointhmr_mm.models.layers.dropout import (FastDropout, drop_mask,
                                               fast_dropout)

NUM = 1_000_000
SIGMAS = 5  # tolerance of a measured fraction, binomial standard deviations


def _tolerance(p, num):
    return SIGMAS * (p * (1 - p) / num)**0.5


@pytest.mark.parametrize('p', [0.1, 0.5, 0.9])
def test_drop_fraction_is_p(p):
    torch.manual_seed(0)
    drop, p_q = drop_mask((NUM, ), p)
    assert abs(p_q - p) <= 2**-17
    assert abs(drop.float().mean().item() - p_q) < _tolerance(p, NUM)


def test_lanes_are_independent_and_uniform():
    """Neighbouring elements come from lanes of one draw: their drops must
    still be independent, and every lane position equally likely."""
    torch.manual_seed(1)
    drop, p_q = drop_mask((NUM // 3, 3), 0.5)
    per_lane = drop.float().mean(0)
    assert ((per_lane - p_q).abs() < _tolerance(p_q, NUM // 3)).all()
    both = (drop[:, 0] & drop[:, 1]).float().mean()
    assert abs(both.item() - p_q**2) < _tolerance(p_q**2, NUM // 3)


def test_values_and_gradient_follow_the_mask():
    torch.manual_seed(2)
    x = torch.randn(64, 257, requires_grad=True)
    torch.manual_seed(3)
    out = fast_dropout(x, 0.25)
    torch.manual_seed(3)
    drop, p_q = drop_mask(x.shape, 0.25)
    expected = torch.where(drop, 0., x.detach() / (1 - p_q))
    torch.testing.assert_close(out, expected)
    out.backward(torch.ones_like(out))
    torch.testing.assert_close(x.grad, torch.where(drop, 0., 1 / (1 - p_q)))


def test_expectation_is_kept():
    torch.manual_seed(4)
    x = torch.full((NUM, ), 2.)
    assert abs(fast_dropout(x, 0.1).mean().item() - 2.) < 0.01


def test_bf16_in_bf16_out():
    x = torch.randn(8, 16, dtype=torch.bfloat16)
    assert fast_dropout(x, 0.1).dtype == torch.bfloat16


def test_eval_and_zero_p_are_identity_and_bad_p_is_refused():
    x = torch.randn(5, 7)
    layer = FastDropout(0.3).eval()
    assert torch.equal(layer(x), x)
    assert torch.equal(fast_dropout(x, 0.), x)
    with pytest.raises(ValueError, match='dropout probability'):
        fast_dropout(x, 1.)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='no CUDA')
def test_cuda_uses_torch_dropout():
    x = torch.ones(1000, device='cuda')
    torch.manual_seed(5)
    ours = fast_dropout(x, 0.2)
    torch.manual_seed(5)
    torch.testing.assert_close(ours, F.dropout(x, 0.2))
