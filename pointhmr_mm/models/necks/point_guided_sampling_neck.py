"""PointHMR's point-guided sampling neck.

Shape shorthand: B batch, V coarse vertices, C token channels,
H x W the fine feature map (56 x 56 for a 224 crop), h x w the coarse map
(7 x 7).
"""
from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from pointhmr_mm.models.layers import (make_basic_decoder,
                                       sine_position_encoding)
from pointhmr_mm.models.utils.precision import full_precision
from pointhmr_mm.registry import MODELS


@MODELS.register_module()
class PointGuidedSamplingNeck(BaseModule):
    """Turns two backbone maps into camera, grid and vertex tokens.

    - Heatmap decoder (fine map): one logit map per coarse vertex.
    - Target-feature decoder (fine map) plus a 2D sine position encoding.
    - Vertex tokens: each vertex's softmaxed heatmap weights a sum over the
      target features (one batched matmul).
    - Grid decoder (coarse map) plus the sine encoding: ``h * w`` tokens.
    - Camera token: a learned linear mix of the V vertex tokens.

    With ``sample_vertices=False`` (the FastMETRO-like ablation) nothing is
    sampled: vertex tokens and the camera token are learned queries and the
    heatmap/target decoders are not built.

    Args:
        in_channels: Channels of the (fine, coarse) backbone outputs.
        in_indices: Which backbone outputs are (fine, coarse).
        num_vertices: Coarse-mesh vertices V (431 for SMPL).
        embed_dims: Token channels C.
        num_heatmap_blocks: BasicBlocks in the heatmap decoder.
        num_target_blocks: BasicBlocks in the target-feature decoder.
        num_grid_blocks: BasicBlocks in the grid decoder.
        sample_vertices: Point-guided sampling on (True) or learned vertex
            queries (False).
        norm_cfg: Norm layers of the decoders, e.g. ``dict(type='SyncBN')``.
        with_cp: Activation checkpointing of every decoder block (less
            memory, one more forward of each block in backward).
        heatmap_hidden_dims: Width of the heatmap decoder's blocks, widened
            to V by its 1x1 conv; None: V (as released).
        target_dims: Channels of the target-feature map; the sampled vertex
            tokens are projected from it to ``embed_dims`` by a linear
            layer. None: ``embed_dims`` (as released, no projection).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (32, 256),
                 in_indices: Sequence[int] = (0, 3),
                 num_vertices: int = 431,
                 embed_dims: int = 512,
                 num_heatmap_blocks: int = 2,
                 num_target_blocks: int = 2,
                 num_grid_blocks: int = 1,
                 sample_vertices: bool = True,
                 norm_cfg: dict = dict(type='BN'),
                 with_cp: bool = False,
                 heatmap_hidden_dims: Optional[int] = None,
                 target_dims: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != 2 or len(in_indices) != 2:
            raise ValueError('in_channels and in_indices must each name two '
                             'backbone outputs (fine, coarse), got '
                             f'{in_channels} and {in_indices}')
        target_dims = target_dims or embed_dims
        for name, dims in (('embed_dims', embed_dims),
                           ('target_dims', target_dims)):
            if dims % 4:
                # sin/cos pairs for each of the two axes
                raise ValueError(f'{name} must be a multiple of 4 for the '
                                 f'sine encoding, got {dims}')
        self.in_indices = tuple(in_indices)
        self.num_vertices = num_vertices
        self.embed_dims = embed_dims
        self.sample_vertices = sample_vertices
        fine_channels, coarse_channels = in_channels

        self.grid_decoder = make_basic_decoder(coarse_channels, embed_dims,
                                               num_grid_blocks, norm_cfg,
                                               with_cp)
        if sample_vertices:
            self.heatmap_decoder = make_basic_decoder(
                fine_channels, num_vertices, num_heatmap_blocks, norm_cfg,
                with_cp, heatmap_hidden_dims, channels_first_output=True)
            self.target_decoder = make_basic_decoder(
                fine_channels, target_dims, num_target_blocks, norm_cfg,
                with_cp)
            self.target_projection = (nn.Linear(target_dims, embed_dims)
                                      if target_dims != embed_dims else None)
            self.camera_mix = nn.Linear(num_vertices, 1)
        else:
            self.vertex_queries = nn.Embedding(num_vertices, embed_dims)
            self.camera_query = nn.Embedding(1, embed_dims)

    def _add_position(self, feat: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, H*W, C) with the sine encoding added."""
        _, channels, height, width = feat.shape
        pos = sine_position_encoding(height, width, channels // 2,
                                     device=feat.device, dtype=feat.dtype)
        # (B, C, H, W) -> (B, H*W, C)
        return (feat + pos).flatten(2).transpose(1, 2)

    def forward(self, feats: Sequence[Tensor]) -> Dict[str, Optional[Tensor]]:
        """Make the tokens.

        Args:
            feats: Backbone outputs; ``feats[in_indices[0]]`` is the fine map
                (B, C_fine, H, W), ``feats[in_indices[1]]`` the coarse one.

        Returns:
            dict:
            - ``camera_token`` (B, 1, C)
            - ``grid_tokens`` (B, h*w, C)
            - ``vertex_tokens`` (B, V, C)
            - ``heatmap_logits`` (B, V, H, W), or None without sampling;
            - ``heatmap_probs`` (B, V, H*W) fp32, their softmax over pixels
              (the sampling weights, reused by the heatmap losses), or None.
        """
        fine, coarse = feats[self.in_indices[0]], feats[self.in_indices[1]]
        batch = fine.shape[0]
        grid_tokens = self._add_position(self.grid_decoder(coarse))
        if not self.sample_vertices:
            return dict(
                camera_token=self.camera_query.weight.expand(batch, -1, -1),
                grid_tokens=grid_tokens,
                vertex_tokens=self.vertex_queries.weight.expand(
                    batch, -1, -1),
                heatmap_logits=None,
                heatmap_probs=None)

        heatmap_logits = self.heatmap_decoder(fine)
        target = self._add_position(self.target_decoder(fine))
        # (B, V, H, W) -> (B, V, H*W), a distribution over pixels per
        # vertex; fp32 under autocast too (3136-way softmax, loss input).
        with full_precision(heatmap_logits):
            weights = heatmap_logits.float().flatten(2).softmax(dim=-1)
        # (B, V, H*W) @ (B, H*W, C') -> (B, V, C'), in the features' dtype
        vertex_tokens = torch.bmm(weights.to(target.dtype), target)
        if self.target_projection is not None:
            # (B, V, C') -> (B, V, C)
            vertex_tokens = self.target_projection(vertex_tokens)
        # (B, V, C) -> (B, C, V) -> (B, C, 1) -> (B, 1, C)
        camera_token = self.camera_mix(vertex_tokens.transpose(1, 2))
        return dict(
            camera_token=camera_token.transpose(1, 2),
            grid_tokens=grid_tokens,
            vertex_tokens=vertex_tokens,
            heatmap_logits=heatmap_logits,
            heatmap_probs=weights)
