"""The CPU dropout with the cheaper mask (``layers/dropout.py``)."""
import pytest
import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from pointhmr_mm.models.layers.dropout import (LANES_PER_WORD, FastDropout,
                                               fast_dropout, keep_mask)

NUM = 1_000_000
SIGMAS = 5  # tolerance of a measured fraction, binomial standard deviations


def _tolerance(p, num):
    return SIGMAS * (p * (1 - p) / num)**0.5


@pytest.mark.parametrize('p', [0.1, 0.5, 0.9])
def test_drop_fraction_is_p(p):
    torch.manual_seed(0)
    keep, p_q = keep_mask((NUM, ), p)
    assert abs(p_q - p) <= 2**-17
    assert set(keep.unique().tolist()) == {0., 1.}
    assert abs(1 - keep.mean().item() - p_q) < _tolerance(p, NUM)


def test_lanes_are_independent_and_uniform():
    """Neighbouring elements come from the 16-bit lanes of one 64-bit word:
    their drops must still be independent, and every lane position
    equally likely."""
    torch.manual_seed(1)
    rows = NUM // LANES_PER_WORD
    drop = keep_mask((rows, LANES_PER_WORD), 0.5)[0] == 0
    p_q = 0.5
    per_lane = drop.float().mean(0)
    assert ((per_lane - p_q).abs() < _tolerance(p_q, rows)).all()
    for a, b in ((0, 1), (1, 2), (2, 3), (0, 3)):
        both = (drop[:, a] & drop[:, b]).float().mean()
        assert abs(both.item() - p_q**2) < _tolerance(p_q**2, rows)


def test_mask_follows_torch_seed_and_checkpoint_replays_it():
    torch.manual_seed(7)
    first = keep_mask((1000, ), 0.3)[0]
    torch.manual_seed(7)
    assert torch.equal(keep_mask((1000, ), 0.3)[0], first)
    assert not torch.equal(keep_mask((1000, ), 0.3)[0], first)
    # activation checkpointing restores torch's RNG state for the
    # recomputation, so the recomputed dropout drops the same elements
    x = torch.randn(300, requires_grad=True)
    torch.manual_seed(8)
    checkpoint(fast_dropout, x, 0.4, use_reentrant=False).sum().backward()
    torch.manual_seed(8)
    keep, p_q = keep_mask(x.shape, 0.4)
    torch.testing.assert_close(x.grad, keep / (1 - p_q))


def test_values_and_gradient_follow_the_mask():
    torch.manual_seed(2)
    x = torch.randn(64, 257, requires_grad=True)
    torch.manual_seed(3)
    out = fast_dropout(x, 0.25)
    torch.manual_seed(3)
    keep, p_q = keep_mask(x.shape, 0.25)
    expected = torch.where(keep == 0, 0., x.detach() / (1 - p_q))
    torch.testing.assert_close(out, expected)
    out.backward(torch.ones_like(out))
    torch.testing.assert_close(x.grad, keep / (1 - p_q))


def test_expectation_is_kept():
    torch.manual_seed(4)
    x = torch.full((NUM, ), 2.)
    assert abs(fast_dropout(x, 0.1).mean().item() - 2.) < 0.01


def test_bf16_in_bf16_out():
    x = torch.randn(8, 16, dtype=torch.bfloat16)
    assert fast_dropout(x, 0.1).dtype == torch.bfloat16
    assert keep_mask((3, ), 0.1, torch.bfloat16)[0].dtype == torch.bfloat16


def test_probabilities_below_one_lane_value_drop_nothing():
    keep, p_q = keep_mask((1000, ), 2**-18)
    assert p_q == 0. and bool((keep == 1).all())
    # and the largest probabilities stay below 1 (a finite scale)
    assert keep_mask((10, ), 1 - 2**-20)[1] == 1 - 2**-16


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
