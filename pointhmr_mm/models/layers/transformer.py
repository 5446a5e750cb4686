"""Pre-LayerNorm transformer encoder layers with boolean attention masks.

The parameter names follow ``nn.TransformerEncoderLayer`` /
``nn.MultiheadAttention`` (``self_attn.in_proj_weight``, ``linear1``,
``norm1``, ...) so released PointHMR weights map one to one. Attention runs
through ``F.scaled_dot_product_attention``, which picks a fused kernel; the
``nn.MultiheadAttention`` module is kept only as a parameter holder so that
its layout (and ``init``) are the standard ones.

On CPU, ``scaled_dot_product_attention`` has no fused kernel with dropout:
its math fallback runs in fp32 (also under autocast) and keeps about eight
(B, heads, L, L) tensors per layer for backward, about 1 GB at batch 4 for
PointHMR's eight layers. Training with dropout on CPU therefore goes
through :class:`_AttentionWithDropout`, which keeps for backward only Q,
K, V, the softmax in the inputs' dtype and a {0, 1} keep mask (from the
cheaper CPU mask of :mod:`.dropout`) and rebuilds the dropped weights
there. Everything else goes through the fused call.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .dropout import FastDropout, keep_mask


class _AttentionWithDropout(torch.autograd.Function):
    """``dropout(softmax(Q K^T / sqrt(d) + mask)) V`` keeping only Q, K, V,
    the softmax in the inputs' dtype and the {0, 1} keep mask for backward.

    Written by hand because torch has no fused CPU attention with dropout
    (see the module docstring) and autograd on the written-out graph keeps
    an fp32 softmax, the dropped weights and the drop mask, and makes
    about seven passes over each (B, heads, L, L) tensor each way. Here:

    - the mask enters as an additive 0 / -inf bias of the score GEMM
      (``baddbmm``): on a 2-core AMX Xeon at batch 4 that is 1.0 ms for
      GEMM and mask together, against 0.8 ms + 5.8 ms for the GEMM and a
      ``masked_fill_`` of the (B, heads, L, L) scores;
    - dropout multiplies by the keep mask of :func:`.dropout.keep_mask`,
      and its 1 / (1 - p) scale goes on the (L, D) output and its
      gradient, not on (L, L);
    - backward rebuilds the dropped weights from the kept softmax.

    The softmax runs in the inputs' dtype; torch's CPU kernel accumulates
    bf16 in fp32.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor,
                attn_mask: Optional[Tensor], p: float) -> Tensor:
        with torch.autocast('cpu', enabled=False):
            dtype = v.dtype
            batch, heads, length, dims = q.shape
            q = q.to(dtype) * dims**-0.5
            k = k.to(dtype)
            # (B, heads, L, D) -> (B * heads, L, D)
            q3 = q.reshape(batch * heads, length, dims)
            k3 = k.reshape(batch * heads, -1, dims)
            if attn_mask is None:
                scores = torch.bmm(q3, k3.transpose(1, 2))
            else:
                bias = torch.zeros(attn_mask.shape, dtype=dtype).masked_fill_(
                    ~attn_mask, float('-inf'))
                scores = torch.baddbmm(bias, q3, k3.transpose(1, 2))
            # (B * heads, L, L) -> (B, heads, L, L)
            weights = scores.view(batch, heads, length, -1).softmax(dim=-1)
            del scores
            keep, p_q = keep_mask(weights.shape, p, dtype)
            scale = 1. / (1. - p_q)
            # the 1 / (1 - p) scale goes on the (L, D) output, not (L, L)
            out = torch.matmul(weights * keep, v).mul_(scale)
        ctx.save_for_backward(q, k, v, weights, keep)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        q, k, v, weights, keep = ctx.saved_tensors
        scale = ctx.scale
        grad_out = grad_out.to(v.dtype) * scale
        dropped = weights * keep
        grad_v = torch.matmul(dropped.transpose(-2, -1), grad_out)
        del dropped
        grad_weights = torch.matmul(grad_out, v.transpose(-2, -1))
        grad_weights.mul_(keep)
        # masked keys have weight 0, so their score gradient is 0 too
        grad_scores = torch.ops.aten._softmax_backward_data(
            grad_weights, weights, -1, weights.dtype)
        del grad_weights
        grad_q = torch.matmul(grad_scores, k).mul_(q.shape[-1]**-0.5)
        grad_k = torch.matmul(grad_scores.transpose(-2, -1), q)
        return grad_q, grad_k, grad_v, None, None


def _attention_with_dropout(q: Tensor, k: Tensor, v: Tensor,
                            attn_mask: Optional[Tensor],
                            dropout: float) -> Tensor:
    """``scaled_dot_product_attention`` with dropout on the weights, in
    few saved tensors (see the module docstring and
    :class:`_AttentionWithDropout`).

    Args:
        q, k, v: (B, heads, L, D).
        attn_mask: (L, L) bool, True where attention is allowed; every row
            must allow at least one key. None for dense attention.
        dropout: Dropout probability on the attention weights.

    Returns:
        Tensor: (B, heads, L, D) in ``v``'s dtype.
    """
    return _AttentionWithDropout.apply(q, k, v, attn_mask, dropout)


class MaskedEncoderLayer(nn.Module):
    """One pre-LN encoder layer: ``x + drop(attn(LN(x)))``, then the FFN.

    Args:
        embed_dim: Token width.
        num_heads: Attention heads.
        ffn_dim: Hidden width of the feed-forward network.
        dropout: Dropout on attention weights, inside the FFN and on both
            residual branches.
    """

    def __init__(self, embed_dim: int, num_heads: int, ffn_dim: int,
                 dropout: float = 0.1):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f'embed_dim={embed_dim} is not divisible by '
                             f'num_heads={num_heads}')
        self.num_heads = num_heads
        self.dropout_p = dropout
        self.self_attn = nn.MultiheadAttention(embed_dim, num_heads,
                                               dropout=dropout,
                                               batch_first=True)
        self.linear1 = nn.Linear(embed_dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, embed_dim)
        self.norm1 = nn.LayerNorm(embed_dim)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.dropout = FastDropout(dropout)
        self.dropout1 = FastDropout(dropout)
        self.dropout2 = FastDropout(dropout)

    def attention(self, x: Tensor, attn_mask: Optional[Tensor]) -> Tensor:
        """Multi-head self-attention.

        Args:
            x: (B, L, C) tokens.
            attn_mask: (L, L) bool, True where query i may attend to key j;
                None for dense attention.

        Returns:
            Tensor: (B, L, C).
        """
        batch, length, channels = x.shape
        qkv = F.linear(x, self.self_attn.in_proj_weight,
                       self.self_attn.in_proj_bias)
        # (B, L, 3C) -> 3 x (B, heads, L, C / heads); unbind, not indexing,
        # so that backward assembles one gradient instead of three
        # zero-padded ones.
        q, k, v = qkv.view(batch, length, 3, self.num_heads,
                           channels // self.num_heads).permute(
                               2, 0, 3, 1, 4).unbind(0)
        dropout = self.dropout_p if self.training else 0.
        if dropout and x.device.type == 'cpu':
            out = _attention_with_dropout(q, k, v, attn_mask, dropout)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                                 dropout_p=dropout)
        # (B, heads, L, C / heads) -> (B, L, C)
        out = out.transpose(1, 2).reshape(batch, length, channels)
        return self.self_attn.out_proj(out)

    def forward(self, x: Tensor, attn_mask: Optional[Tensor] = None) -> Tensor:
        """Args: x (B, L, C); attn_mask (L, L) bool or None. Returns (B, L, C)."""
        x = x + self.dropout1(self.attention(self.norm1(x), attn_mask))
        ffn = self.linear2(self.dropout(F.relu(self.linear1(self.norm2(x)))))
        return x + self.dropout2(ffn)


class MaskedEncoderBlock(nn.Module):
    """A stack of :class:`MaskedEncoderLayer` sharing one mask, then an
    optional LayerNorm.

    Args:
        num_layers: Layers in the block.
        embed_dim: Token width.
        num_heads: Attention heads.
        ffn_dim: FFN hidden width.
        dropout: Dropout rate.
        final_norm: Whether a LayerNorm closes the block.
        with_cp: Activation checkpointing of every layer in training: its
            activations (the (B, heads, L, L) attention weights above all)
            are recomputed in backward instead of kept; the recomputation
            replays the same dropout masks (``torch.utils.checkpoint``
            restores the RNG state).
    """

    def __init__(self, num_layers: int, embed_dim: int, num_heads: int,
                 ffn_dim: int, dropout: float = 0.1,
                 final_norm: bool = False, with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.layers = nn.ModuleList(
            MaskedEncoderLayer(embed_dim, num_heads, ffn_dim, dropout)
            for _ in range(num_layers))
        self.norm = nn.LayerNorm(embed_dim) if final_norm else None

    def forward(self, x: Tensor, attn_mask: Optional[Tensor] = None) -> Tensor:
        """Args: x (B, L, C); attn_mask (L, L) bool or None. Returns (B, L, C)."""
        for layer in self.layers:
            if self.with_cp and self.training and x.requires_grad:
                x = checkpoint(layer, x, attn_mask, use_reentrant=False)
            else:
                x = layer(x, attn_mask)
        return x if self.norm is None else self.norm(x)
