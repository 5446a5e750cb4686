import pytest
import torch

from pointhmr_mm.models.layers import MaskedEncoderBlock, MaskedEncoderLayer
from pointhmr_mm.models.layers.dropout import fast_dropout


def random_mask(length, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(length, length, generator=g) > 0.5
    mask |= torch.eye(length, dtype=torch.bool)  # every query sees itself
    return mask


def test_bad_heads():
    with pytest.raises(ValueError, match='num_heads'):
        MaskedEncoderLayer(10, 3, 16)


def test_masked_attention_equals_dense_reference():
    torch.manual_seed(0)
    layer = MaskedEncoderLayer(16, 4, 32).eval()
    x = torch.randn(2, 9, 16)
    mask = random_mask(9)
    # nn.MultiheadAttention masks where its bool mask is True
    ref, _ = layer.self_attn(x, x, x, attn_mask=~mask, need_weights=False)
    torch.testing.assert_close(layer.attention(x, mask), ref)

    # the whole layer, pre-LN, written out by hand
    h = layer.norm1(x)
    h, _ = layer.self_attn(h, h, h, attn_mask=~mask, need_weights=False)
    y = x + h
    y = y + layer.linear2(torch.relu(layer.linear1(layer.norm2(y))))
    torch.testing.assert_close(layer(x, mask), y)


def test_token_outside_mask_cannot_change_output():
    torch.manual_seed(0)
    layer = MaskedEncoderLayer(16, 4, 32).eval()
    mask = random_mask(9)
    i = 0
    blocked = (~mask[i]).nonzero().flatten()
    assert len(blocked) > 0
    x = torch.randn(1, 9, 16)
    x2 = x.clone()
    x2[0, blocked] += 10 * torch.randn(len(blocked), 16)
    torch.testing.assert_close(layer(x, mask)[0, i], layer(x2, mask)[0, i])
    allowed = [j for j in mask[i].nonzero().flatten().tolist() if j != i]
    x3 = x.clone()
    x3[0, allowed[0]] += 10 * torch.randn(16)  # not a constant: LN
    assert not torch.allclose(layer(x, mask)[0, i], layer(x3, mask)[0, i])


def test_block_norm_and_shapes():
    block = MaskedEncoderBlock(2, 8, 2, 16, final_norm=True)
    assert len(block.layers) == 2 and block.norm is not None
    out = block(torch.randn(2, 5, 8))
    assert out.shape == (2, 5, 8)
    torch.testing.assert_close(out.mean(-1), torch.zeros(2, 5), atol=1e-5,
                               rtol=0)


def test_cpu_dropout_attention_equals_the_fused_definition():
    """Training with dropout on CPU takes the written-out path: with the
    same dropout draw (layers/dropout.py) it equals
    softmax(QK^T / sqrt(d) + mask) V."""
    torch.manual_seed(0)
    layer = MaskedEncoderLayer(16, 4, 32, dropout=0.3).train()
    x = torch.randn(2, 9, 16, requires_grad=True)
    mask = random_mask(9)
    torch.manual_seed(1)
    out = layer.attention(x, mask)
    # the same computation by hand, with the same dropout draw
    qkv = torch.nn.functional.linear(x, layer.self_attn.in_proj_weight,
                                     layer.self_attn.in_proj_bias)
    q, k, v = qkv.view(2, 9, 3, 4, 4).permute(2, 0, 3, 1, 4)
    scores = (q @ k.transpose(-2, -1)) / 2. + torch.zeros(9, 9).masked_fill(
        ~mask, float('-inf'))
    torch.manual_seed(1)
    weights = fast_dropout(scores.softmax(-1), 0.3)
    ref = layer.self_attn.out_proj(
        (weights @ v).transpose(1, 2).reshape(2, 9, 16))
    torch.testing.assert_close(out, ref)
    # dropout is active: a different draw gives a different output
    torch.manual_seed(2)
    assert not torch.allclose(layer.attention(x, mask), out)
    # and without dropout (eval) it is the fused masked attention
    layer.eval()
    dense, _ = layer.self_attn(x, x, x, attn_mask=~mask, need_weights=False)
    torch.testing.assert_close(layer.attention(x, mask), dense)
