"""PointHMR's masked transformer head.

Shape shorthand: B batch, J joints (14), V coarse vertices (431 for SMPL),
G grid tokens (49), L = 1 + G + J + V tokens, C token channels, H x W the
vertex heatmaps.
Token order: [camera | grid | joints | vertices].
"""
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from pointhmr_mm.models.layers import MaskedEncoderBlock
from pointhmr_mm.models.task_modules import MeshTargets
from pointhmr_mm.models.utils.precision import full_precision, to_float
from pointhmr_mm.registry import MODELS, TASK_UTILS
from pointhmr_mm.utils.geometry import weak_perspective_projection


@MODELS.register_module()
class MaskedMeshTransformerHead(BaseModule):
    """Regresses camera, 3D joints and the coarse mesh from the tokens, then
    upsamples the mesh with the fixed sampler matrices.

    Vertex-to-vertex attention in block ``i`` is limited to the
    ``mask_hops[i]``-hop neighbourhood on the coarse mesh (None: dense).
    Camera, grid and joint tokens see every token and every vertex sees them.

    Args:
        mesh_targets: The model's :class:`MeshTargets` (or its config): the
            mesh hierarchy, V, G (the crop's 1/32 map), the heatmap size and
            the losses' upscale come from it.
        num_joints: Learned joint tokens J.
        in_channels: Channels of the incoming tokens.
        position_dims: Width of the learned token-position embedding that is
            concatenated to every token.
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
            Loss configs (MODELS); ``loss_heatmap``/``loss_dice`` may be None
            and get ``upscale`` from ``mesh_targets``.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 mesh_targets: Union[dict, MeshTargets],
                 num_joints: int = 14,
                 in_channels: int = 512,
                 position_dims: int = 128,
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
        self.mesh_targets = (TASK_UTILS.build(mesh_targets)
                             if isinstance(mesh_targets, dict) else
                             mesh_targets)
        self.num_joints = num_joints
        self.num_grid_tokens = self.mesh_targets.num_grid_tokens
        self.num_vertices = self.mesh_targets.num_vertices
        self.num_tokens = (1 + self.num_grid_tokens + num_joints +
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
        self.loss_heatmap = self._heatmap_loss('loss_heatmap', loss_heatmap)
        self.loss_dice = self._heatmap_loss('loss_dice', loss_dice)

    @property
    def mesh_sampler(self) -> nn.Module:
        """The mesh targets' hierarchy (coarse tokens -> full mesh)."""
        return self.mesh_targets.mesh_sampler

    def _heatmap_loss(self, key: str,
                      cfg: Optional[dict]) -> Optional[nn.Module]:
        """Build a heatmap loss at the mesh targets' upscale."""
        if not cfg:
            return None
        cfg = dict(cfg)
        upscale = self.mesh_targets.heatmap_upscale
        if cfg.setdefault('upscale', upscale) != upscale:
            raise ValueError(f'{key}.upscale={cfg["upscale"]} differs from '
                             f'mesh_targets.heatmap_upscale={upscale}; set '
                             'it there only')
        return MODELS.build(cfg)

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
                ``grid_tokens`` (B, G, C), ``vertex_tokens`` (B, V, C) and
                optionally ``heatmap_logits`` (B, V, H, W) and their softmax
                ``heatmap_probs`` (B, V, H*W), each possibly None.

        Returns:
            dict:
            - ``pred_camera`` (B, 3): weak-perspective (s, tx, ty);
            - ``pred_joints_3d`` (B, J, 3) from the joint tokens;
            - ``pred_vertices`` list of (B, n_l, 3) from coarse to full mesh;
            - ``heatmap_logits``, ``heatmap_probs``: the neck's, passed on
              for the losses and for predictions (None without them).
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
                pred_vertices=self.mesh_sampler.upsample_all(coarse),
                heatmap_logits=tokens.get('heatmap_logits'),
                heatmap_probs=tokens.get('heatmap_probs'))

    def loss(self, outputs: Dict[str, object],
             targets: Dict[str, object]) -> Dict[str, Tensor]:
        """All PointHMR losses, reduced in fp32 (also under autocast).

        Args:
            outputs: :meth:`forward`'s dict.
            targets: :meth:`MeshTargets.loss_targets`'s dict:
                ``gt_vertices`` list of (B, n_l, 3) coarse to full,
                pelvis-centred; ``has_smpl`` (B,); ``gt_keypoints_3d``
                (B, J, 4); ``gt_keypoints_2d`` (B, J, 3) in [-1, 1].

        Returns:
            dict of scalar losses, each already weighted.
        """
        # The heatmap logits stay as they are: the losses read their fp32
        # softmax (heatmap_probs), and an fp32 copy of the (B, V, H, W)
        # map and its cast back in backward cost two passes for nothing.
        logits = outputs['heatmap_logits']
        outputs = to_float({k: v for k, v in outputs.items()
                            if k != 'heatmap_logits'})
        outputs['heatmap_logits'] = logits
        # LSP-14 joints regressed from the full mesh (fp32)
        outputs['pred_mesh_joints_3d'] = self.mesh_targets.regress_j14(
            outputs['pred_vertices'][-1])
        with full_precision(outputs['pred_camera']):
            return self._losses(outputs, to_float(targets))

    def _losses(self, outputs: Dict[str, object],
                targets: Dict[str, object]) -> Dict[str, Tensor]:
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
        size = self.mesh_targets.heatmap_size
        if logits.shape[-2:] != (size, size):
            raise ValueError(
                f'the heatmaps are {tuple(logits.shape[-2:])} px, but '
                f'mesh_targets (crop_size={self.mesh_targets.crop_size}, '
                f'heatmap_stride={self.mesh_targets.heatmap_stride}) '
                f'expects {size} x {size}')
        with full_precision(logits):
            if probs is None:
                probs = logits.float().flatten(2).softmax(dim=-1)
            index = self.mesh_targets.heatmap_targets(
                targets['gt_vertices'][0], outputs['pred_camera'].float())
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
