"""PointHMR's masked transformer head.

Shape shorthand: B batch, J joints (14), V coarse vertices (431 for SMPL),
G grid tokens (49), L = 1 + G + J + V tokens, C token channels.
Token order: [camera | grid | joints | vertices].
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from pointhmr_mm.models.layers import MaskedEncoderBlock
from pointhmr_mm.models.utils.precision import full_precision
from pointhmr_mm.registry import MODELS, TASK_UTILS
from pointhmr_mm.utils.geometry import weak_perspective_projection

# Released PointHMR: x2 nearest upsampling of the 56 px logits for the loss.
HEATMAP_LOSS_UPSCALE = 2


@MODELS.register_module()
class MaskedMeshTransformerHead(BaseModule):
    """Regresses camera, 3D joints and the coarse mesh from the tokens, then
    upsamples the mesh with the fixed sampler matrices.

    Vertex-to-vertex attention in block ``i`` is limited to the
    ``mask_hops[i]``-hop neighbourhood on the coarse mesh (None: dense).
    Camera, grid and joint tokens see every token and every vertex sees them.

    Args:
        mesh_sampler: A ``MeshSampler`` or its config (TASK_UTILS).
        num_joints: Learned joint tokens J.
        in_channels: Channels of the incoming tokens.
        position_dims: Width of the learned token-position embedding that is
            concatenated to every token.
        num_grid_tokens: G.
        embed_dims: Token width per block; where it changes between blocks a
            linear projection is inserted. The first must equal
            ``in_channels + position_dims``.
        ffn_dims: FFN width per block.
        num_layers: Encoder layers per block.
        final_norms: Whether a LayerNorm closes each block.
        mask_hops: k of the k-hop vertex mask per block, None for dense.
        num_heads: Attention heads.
        dropout: Dropout rate in the encoder layers.
        with_cp: Activation checkpointing of every encoder layer (less
            memory, one more forward of each layer in backward).
        loss_vertex, loss_joint_3d, loss_joint_2d, loss_heatmap, loss_dice:
            Loss configs (MODELS); ``loss_heatmap``/``loss_dice`` may be None.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 mesh_sampler: Union[dict, nn.Module],
                 num_joints: int = 14,
                 in_channels: int = 512,
                 position_dims: int = 128,
                 num_grid_tokens: int = 49,
                 embed_dims: Sequence[int] = (640, 640, 128, 128),
                 ffn_dims: Sequence[int] = (1024, 1024, 512, 512),
                 num_layers: Sequence[int] = (2, 2, 2, 2),
                 final_norms: Sequence[bool] = (False, True, False, True),
                 mask_hops: Sequence[Optional[int]] = (7, 5, 3, 1),
                 num_heads: int = 4,
                 dropout: float = 0.1,
                 with_cp: bool = False,
                 loss_vertex: dict = dict(type='VertexL1Loss'),
                 loss_joint_3d: dict = dict(type='Keypoint3DMSELoss'),
                 loss_joint_2d: dict = dict(type='Keypoint2DMSELoss'),
                 loss_heatmap: Optional[dict] = dict(type='HeatmapBCELoss'),
                 loss_dice: Optional[dict] = dict(type='HeatmapDiceLoss'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        lengths = {len(embed_dims), len(ffn_dims), len(num_layers),
                   len(final_norms), len(mask_hops)}
        if len(lengths) != 1:
            raise ValueError('embed_dims, ffn_dims, num_layers, final_norms '
                             'and mask_hops must have one entry per block')
        if embed_dims[0] != in_channels + position_dims:
            raise ValueError(f'embed_dims[0]={embed_dims[0]} must equal '
                             f'in_channels + position_dims = '
                             f'{in_channels + position_dims}')
        self.mesh_sampler = (TASK_UTILS.build(mesh_sampler)
                             if isinstance(mesh_sampler, dict) else
                             mesh_sampler)
        self.num_joints = num_joints
        self.num_grid_tokens = num_grid_tokens
        self.num_vertices = self.mesh_sampler.num_vertices[-1]
        self.num_tokens = (1 + num_grid_tokens + num_joints +
                           self.num_vertices)
        self.mask_hops = tuple(mask_hops)

        self.joint_queries = nn.Embedding(num_joints, in_channels)
        self.token_position = nn.Embedding(self.num_tokens, position_dims)
        self.blocks = nn.ModuleList()
        self.projections = nn.ModuleDict()
        for i, (dim, ffn, depth, norm) in enumerate(
                zip(embed_dims, ffn_dims, num_layers, final_norms)):
            if i and dim != embed_dims[i - 1]:
                self.projections[str(i)] = nn.Linear(embed_dims[i - 1], dim)
            self.blocks.append(
                MaskedEncoderBlock(depth, dim, num_heads, ffn, dropout, norm,
                                   with_cp))
        self.xyz_regressor = nn.Linear(embed_dims[-1], 3)
        self.camera_regressor = nn.Linear(embed_dims[-1], 3)
        for i, hops in enumerate(self.mask_hops):
            mask = None if hops is None else self._token_mask(hops)
            # Derived from the topology, so not saved in checkpoints.
            self.register_buffer(f'attn_mask_{i}', mask, persistent=False)

        self.loss_vertex = MODELS.build(loss_vertex)
        self.loss_joint_3d = MODELS.build(loss_joint_3d)
        self.loss_joint_2d = MODELS.build(loss_joint_2d)
        self.loss_heatmap = MODELS.build(loss_heatmap) if loss_heatmap else None
        self.loss_dice = MODELS.build(loss_dice) if loss_dice else None
        upscales = {getattr(loss, 'upscale', HEATMAP_LOSS_UPSCALE)
                    for loss in (self.loss_heatmap, self.loss_dice) if loss}
        if len(upscales) > 1:
            raise ValueError('loss_heatmap and loss_dice must share one '
                             f'upscale, got {sorted(upscales)}')
        # Resolution factor at which heatmap targets are placed.
        self.heatmap_upscale = upscales.pop() if upscales else \
            HEATMAP_LOSS_UPSCALE

    def _token_mask(self, hops: int) -> Tensor:
        """(L, L) bool, True where attention is allowed."""
        mask = torch.ones(self.num_tokens, self.num_tokens, dtype=torch.bool)
        first_vertex = self.num_tokens - self.num_vertices
        mask[first_vertex:, first_vertex:] = self.mesh_sampler.khop_mask(
            -1, hops)
        return mask

    def forward(self, tokens: Dict[str, Tensor]) -> Dict[str, object]:
        """Run the encoder and the regressors.

        Args:
            tokens: The neck's output: ``camera_token`` (B, 1, C),
                ``grid_tokens`` (B, G, C), ``vertex_tokens`` (B, V, C).

        Returns:
            dict:
            - ``pred_camera`` (B, 3): weak-perspective (s, tx, ty);
            - ``pred_joints_3d`` (B, J, 3) from the joint tokens;
            - ``pred_vertices`` list of (B, n_l, 3) from coarse to full mesh.
        """
        vertex_tokens = tokens['vertex_tokens']
        batch = vertex_tokens.shape[0]
        joint_tokens = self.joint_queries.weight.expand(batch, -1, -1)
        # (B, L, C)
        x = torch.cat([
            tokens['camera_token'], tokens['grid_tokens'], joint_tokens,
            vertex_tokens
        ], dim=1)
        if x.shape[1] != self.num_tokens:
            raise ValueError(f'expected {self.num_tokens} tokens (1 camera, '
                             f'{self.num_grid_tokens} grid, {self.num_joints}'
                             f' joints, {self.num_vertices} vertices), got '
                             f'{x.shape[1]}')
        # (B, L, C) -> (B, L, C + P)
        x = torch.cat(
            [x, self.token_position.weight.expand(batch, -1, -1)], dim=2)
        for i, block in enumerate(self.blocks):
            if str(i) in self.projections:
                x = self.projections[str(i)](x)
            x = block(x, getattr(self, f'attn_mask_{i}'))

        # 3D coordinates and the camera in fp32 under autocast too: bf16's
        # 8-bit mantissa would round a 1 m coordinate by up to 4 mm.
        with full_precision(x):
            x = x.float()
            xyz = self.xyz_regressor(x[:, 1 + self.num_grid_tokens:])
            coarse = xyz[:, self.num_joints:]
            return dict(
                pred_camera=self.camera_regressor(x[:, 0]),
                pred_joints_3d=xyz[:, :self.num_joints],
                pred_vertices=self.mesh_sampler.upsample_all(coarse))

    @staticmethod
    def parent_pixels(index: Tensor, size: int, upscale: int) -> Tensor:
        """Flat pixel index on the ``upscale`` times upsampled map ->
        flat index of its parent pixel on the map itself (-1 stays -1).

        Args:
            index: (...) long on a square ``size`` x ``size`` map, or -1.
            size: Side of the upsampled map (a multiple of ``upscale``).
            upscale: Nearest upsampling factor.

        Returns:
            Tensor: (...) long on the (size / upscale)^2 map, or -1.
        """
        row, col = index // size, index % size
        parent = (row // upscale) * (size // upscale) + col // upscale
        return torch.where(index >= 0, parent, index)

    @staticmethod
    def heatmap_targets(gt_vertices_coarse: Tensor, pred_camera: Tensor,
                        size: int) -> Tensor:
        """Flat pixel index of each GT coarse vertex, projected with the
        predicted camera (no gradient), or -1 when it falls outside.

        Args:
            gt_vertices_coarse: (B, V, 3) metres.
            pred_camera: (B, 3) weak-perspective camera.
            size: Side of the square heatmap (112 for the released model).

        Returns:
            Tensor: (B, V) long.
        """
        with torch.no_grad():
            xy = weak_perspective_projection(gt_vertices_coarse, pred_camera)
            pixel = torch.floor((xy + 1) / 2 * size).long()
            inside = ((pixel >= 0) & (pixel < size)).all(dim=-1)
            index = pixel[..., 1] * size + pixel[..., 0]
            return torch.where(inside, index, torch.full_like(index, -1))

    def loss(self, outputs: Dict[str, object],
             targets: Dict[str, object]) -> Dict[str, Tensor]:
        """All PointHMR losses.

        Args:
            outputs: :meth:`forward`'s dict plus ``pred_mesh_joints_3d``
                (B, J, 3) regressed from the full mesh, ``heatmap_logits``
                (B, V, H, W) or None from the neck and, optionally, their
                softmax ``heatmap_probs`` (B, V, H*W).
            targets: ``gt_vertices`` list of (B, n_l, 3) coarse to full,
                pelvis-centred; ``has_smpl`` (B,); ``gt_keypoints_3d``
                (B, J, 4); ``gt_keypoints_2d`` (B, J, 3) in [-1, 1].

        Returns:
            dict of scalar losses, each already weighted.
        """
        camera = outputs['pred_camera']
        has_smpl = targets['has_smpl']
        losses = dict(loss_vertices=self.loss_vertex(
            outputs['pred_vertices'], targets['gt_vertices'], has_smpl))
        joints = dict(joints=outputs['pred_joints_3d'],
                      mesh_joints=outputs['pred_mesh_joints_3d'])
        for name, pred in joints.items():
            losses[f'loss_{name}_3d'] = self.loss_joint_3d(
                pred, targets['gt_keypoints_3d'])
            losses[f'loss_{name}_2d'] = self.loss_joint_2d(
                weak_perspective_projection(pred, camera),
                targets['gt_keypoints_2d'])

        logits = outputs.get('heatmap_logits')
        if logits is not None and (self.loss_heatmap or self.loss_dice):
            losses.update(self._heatmap_losses(outputs, targets))
        return losses

    def _heatmap_losses(self, outputs: Dict[str, object],
                        targets: Dict[str, object]) -> Dict[str, Tensor]:
        """BCE and dice of the released formulation, at the heatmap's own
        resolution (see :class:`HeatmapBCELoss`): targets are placed on
        the upsampled map as released and mapped to their parent pixels;
        no upsampled map is built."""
        logits = outputs['heatmap_logits']
        probs = outputs.get('heatmap_probs')
        with full_precision(logits):
            if probs is None:
                probs = logits.float().flatten(2).softmax(dim=-1)
            size = logits.shape[-1] * self.heatmap_upscale
            index = self.parent_pixels(
                self.heatmap_targets(targets['gt_vertices'][0],
                                     outputs['pred_camera'].float(), size),
                size, self.heatmap_upscale)
            # samples without a mesh label, like vertices off the map, are
            # left out by index -1 (no copy of the (B, V, P) map)
            labelled = targets['has_smpl'] > 0
            index = index.masked_fill(~labelled[:, None], -1)
            # (B, V, P) -> (B * V, P), a view
            probs, index = probs.float().flatten(0, 1), index.flatten()
            losses = {}
            if self.loss_heatmap:
                losses['loss_heatmap'] = self.loss_heatmap(probs, index)
            if self.loss_dice:
                losses['loss_dice'] = self.loss_dice(probs, index)
        return losses
