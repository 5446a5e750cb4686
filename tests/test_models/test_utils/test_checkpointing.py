"""The batch-norm guard under activation checkpointing."""
import pytest
import torch
from mmpretrain.models.backbones.resnet import BasicBlock
from torch import nn
from torch.utils.checkpoint import checkpoint, set_checkpoint_early_stop

from pointhmr_mm.models.utils.checkpointing import (
    guard_batch_norm_recompute, in_backward)


def _bn_state(model):
    return {n: b.clone() for n, b in model.named_buffers()}


@pytest.mark.parametrize('reentrant', [False, True])
def test_recomputation_does_not_count_a_batch_twice(reentrant):
    torch.manual_seed(0)
    x = torch.randn(4, 3, requires_grad=True)
    plain = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5))
    guarded = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5))
    unguarded = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5))
    guarded.load_state_dict(plain.state_dict())
    unguarded.load_state_dict(plain.state_dict())
    assert guard_batch_norm_recompute(guarded) == 1
    assert guard_batch_norm_recompute(guarded) == 0  # already guarded
    plain(x).sum().backward()
    outs = []
    for model in (guarded, unguarded):
        with set_checkpoint_early_stop(False):
            out = checkpoint(model, x, use_reentrant=reentrant)
        out.pow(2).sum().backward()
        outs.append(out)
    ref = _bn_state(plain)
    got = _bn_state(guarded)
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], msg=name)
    # without the guard the batch counts twice (what the guard is for)
    assert unguarded[1].num_batches_tracked.item() == 2
    torch.testing.assert_close(outs[0], outs[1])


def test_guarded_block_matches_plain_block_in_gradients_and_stats():
    torch.manual_seed(1)
    x = torch.randn(2, 8, 6, 6, requires_grad=True)
    plain = BasicBlock(8, 8)
    cp = BasicBlock(8, 8, with_cp=True)
    cp.load_state_dict(plain.state_dict())
    guard_batch_norm_recompute(cp)
    grads = []
    for block in (plain, cp):
        x.grad = None
        with set_checkpoint_early_stop(False):
            out = block(x)
        out.square().sum().backward()
        grads.append(x.grad.clone())
    torch.testing.assert_close(grads[1], grads[0])
    for name, ref in _bn_state(plain).items():
        torch.testing.assert_close(_bn_state(cp)[name], ref, msg=name)


def test_in_backward_is_false_outside_backward():
    assert not in_backward()
    seen = []

    class Probe(torch.autograd.Function):

        @staticmethod
        def forward(ctx, t):
            return t.clone()

        @staticmethod
        def backward(ctx, grad):
            seen.append(in_backward())
            return grad

    Probe.apply(torch.ones(2, requires_grad=True)).sum().backward()
    assert seen == [True]
