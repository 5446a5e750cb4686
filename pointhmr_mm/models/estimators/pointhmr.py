"""The PointHMR estimator: backbone -> sampling neck -> masked head.

Shape shorthand: B batch, J joints (14), V coarse vertices, N full-mesh
vertices.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmcv.cnn import fuse_conv_bn
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import Tensor, nn
from torch.utils.checkpoint import set_checkpoint_early_stop

from pointhmr_mm.models.utils.checkpointing import guard_batch_norm_recompute
from pointhmr_mm.registry import MODELS, TASK_UTILS
from pointhmr_mm.utils.cpu import resolve_channels_last

SampleList = List[BaseDataElement]


@MODELS.register_module()
class PointHMR(BaseModel):
    """Point-guided 3D human mesh recovery (Kim et al., CVPR 2023).

    Args:
        backbone: Multi-scale backbone config, e.g.
            ``dict(type='mmpretrain.HRNet', arch='w32')``.
        neck: :class:`PointGuidedSamplingNeck` config; its ``num_vertices``
            comes from ``mesh_targets``.
        head: :class:`MaskedMeshTransformerHead` config; it is given the
            built ``mesh_targets``.
        mesh_targets: :class:`MeshTargets` config (TASK_UTILS): crop size,
            body models, mesh hierarchy and heatmap geometry, declared once.
        data_preprocessor: Normalises images (BGR -> RGB, ImageNet stats);
            built from this package's registry, so ``MeshDataPreprocessor``
            needs no scope.
        channels_last: Run the backbone and neck in channels-last (NHWC)
            memory format: True, False or ``'auto'`` (on with CUDA or an
            AMX CPU, where it is faster; see
            :func:`~pointhmr_mm.utils.cpu.resolve_channels_last`).
            Outputs are the same up to float rounding.
        compile_modules: ``torch.compile`` the backbone, the neck and the
            head's forward in place (``nn.Module.compile``; state dict keys
            unchanged): False, True, or a dict of ``torch.compile`` options
            (e.g. ``dict(mode='max-autotune-no-cudagraphs')``). It compiles
            the network only, not mmengine's ``train_step`` as the config's
            top-level ``compile=True`` does (see DEVELOPERS.md). Meant for
            GPUs and for training without activation checkpointing.
        train_cfg, test_cfg: Extra options. ``test_cfg.output_heatmaps``
            adds ``pred_heatmaps`` (V, H, W) to predictions;
            ``test_cfg.fit_smpl=True`` adds ``pred_smpl_*`` SMPL parameters
            (see :meth:`fit_smpl`).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 mesh_targets: dict,
                 channels_last: Union[bool, str] = False,
                 compile_modules: Union[bool, dict] = False,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.mesh_targets = TASK_UTILS.build(mesh_targets)
        num_vertices = self.mesh_targets.num_vertices
        neck = dict(neck)
        if neck.setdefault('num_vertices', num_vertices) != num_vertices:
            raise ValueError(
                f'neck.num_vertices={neck["num_vertices"]} differs from the '
                f'mesh sampler\'s coarse level ({num_vertices} vertices); '
                'leave it out: it comes from mesh_targets')
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.head = MODELS.build(dict(head, mesh_targets=self.mesh_targets))
        self.train_cfg = train_cfg or {}
        self.test_cfg = test_cfg or {}
        self._batch_norms_guarded = False  # see loss()
        self.channels_last = resolve_channels_last(channels_last)
        if self.channels_last:
            # 4D weights become NHWC; later loads copy into them in place
            self.backbone.to(memory_format=torch.channels_last)
            self.neck.to(memory_format=torch.channels_last)
        if compile_modules:
            if not isinstance(compile_modules, (bool, dict)):
                raise TypeError('compile_modules must be True, False or a '
                                'dict of torch.compile options, got '
                                f'{compile_modules!r}')
            options = compile_modules if isinstance(compile_modules,
                                                    dict) else {}
            for part in (self.backbone, self.neck, self.head):
                part.compile(**options)

    @property
    def body_model(self) -> nn.Module:
        """The neutral body model (its ``faces`` are the full mesh's)."""
        return self.mesh_targets.body_model

    # ------------------------------------------------------------------ #
    # network
    # ------------------------------------------------------------------ #
    def extract_feat(self, inputs: Tensor) -> Dict[str, Optional[Tensor]]:
        """(B, 3, 224, 224) normalised images -> the neck's token dict."""
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return self.neck(self.backbone(inputs))

    def _run(self, inputs: Tensor) -> Dict[str, object]:
        return self.head(self.extract_feat(inputs))

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[SampleList] = None,
                mode: str = 'tensor') -> Union[Dict, SampleList, Tuple]:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            outputs = self._run(inputs)
            return (outputs['pred_camera'], outputs['pred_joints_3d'],
                    outputs['pred_vertices'][-1])
        raise RuntimeError(f'Invalid mode "{mode}"; use loss, predict or '
                           'tensor')

    # ------------------------------------------------------------------ #
    # modes
    # ------------------------------------------------------------------ #
    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict:
        """Losses of a batch; see ``MaskedMeshTransformerHead.loss``."""
        # checkpointed blocks must not count a batch twice in their BN
        # statistics; at the first training step, not in __init__, as the
        # Runner replaces the BNs (sync_bn) after building the model
        # (only inside checkpointed modules: the guard's hooks cost a
        # Python call per batch norm and keep torch.compile from fusing)
        if not self._batch_norms_guarded:
            for module in self.modules():
                if getattr(module, 'with_cp', False) is True:
                    guard_batch_norm_recompute(module)
            self._batch_norms_guarded = True
        with set_checkpoint_early_stop(False):
            outputs = self._run(inputs)
        return self.head.loss(outputs,
                              self.mesh_targets.loss_targets(data_samples))

    def fuse_conv_bn(self) -> 'PointHMR':
        """Fold every batch norm of the backbone and the neck into the
        convolution before it (mmcv's ``fuse_conv_bn``), for inference.

        Each fused conv computes ``conv(x) * s + t`` with the batch norm's
        running statistics folded into its weight and bias, so outputs
        equal the unfused model's to float rounding. W32 at batch 1 in bf16
        on the AMX Xeon: about 10% faster (docs/benchmarks.md).
        The batch norms become ``nn.Identity`` and the state dict changes
        (conv biases, no BN buffers), so fuse a copy you will not train or
        save. Channels-last weights are laid out NHWC again afterwards.

        Returns:
            PointHMR: ``self``, fused.

        Raises:
            RuntimeError: In training mode, where batch norm uses the
                batch's statistics, which cannot be folded.
        """
        if self.training:
            raise RuntimeError('fuse_conv_bn needs eval mode (model.eval()): '
                               'training batch norm uses the batch\'s own '
                               'statistics')
        for part in (self.backbone, self.neck):
            fuse_conv_bn(part)
            if self.channels_last:
                # the fused weights are new NCHW parameters
                part.to(memory_format=torch.channels_last)
        return self

    def predict(self, inputs: Tensor,
                data_samples: Optional[SampleList] = None) -> SampleList:
        """Predict meshes; fields are listed in ``docs/conventions.md``."""
        outputs = self._run(inputs)
        batch = inputs.shape[0]
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(batch)]
        fine = outputs['pred_vertices'][-1]
        pred = dict(
            pred_vertices=fine,
            pred_vertices_coarse=outputs['pred_vertices'][0],
            pred_keypoints_3d=outputs['pred_joints_3d'],
            pred_keypoints_3d_h36m=self.mesh_targets.regress_h36m(fine),
            pred_camera=outputs['pred_camera'])
        if (self.test_cfg.get('output_heatmaps')
                and outputs['heatmap_logits'] is not None):
            logits = outputs['heatmap_logits']
            pred['pred_heatmaps'] = outputs['heatmap_probs'].view_as(logits)
        if self.test_cfg.get('fit_smpl'):
            pred.update(self.fit_smpl(fine))
        self.mesh_targets.add_gt_meshes(data_samples)
        for i, sample in enumerate(data_samples):
            sample.set_data({k: v[i].detach() for k, v in pred.items()})
        return data_samples

    def fit_smpl(self, vertices: Tensor) -> Dict[str, Tensor]:
        """SMPL parameters of predicted meshes (``test_cfg.fit_smpl``).

        The fitter (``SMPLParamFitter`` on the neutral body model, options
        from ``test_cfg.smpl_fitter``) is built on first use and kept out
        of the module tree, so checkpoints and ``state_dict`` stay as they
        are.

        Args:
            vertices: (B, N, 3) predicted full mesh, pelvis-centred, camera
                axes, metres.

        Returns:
            dict: ``pred_smpl_global_orient`` (B, 3), ``pred_smpl_body_pose``
            (B, 23, 3), ``pred_smpl_betas`` (B, 10), ``pred_smpl_transl``
            (B, 3) in that frame, ``pred_smpl_mpve_fit`` (B,) metres.
        """
        fitter = self.__dict__.get('_smpl_fitter')
        if fitter is None:
            cfg = dict(type='SMPLParamFitter', body_model=self.body_model)
            cfg.update(self.test_cfg.get('smpl_fitter') or {})
            fitter = TASK_UTILS.build(cfg)
            # a plain attribute: not a submodule, never in state_dict
            self.__dict__['_smpl_fitter'] = fitter
        out = fitter(vertices.detach())
        return {f'pred_smpl_{k}': out[k] for k in
                ('global_orient', 'body_pose', 'betas', 'transl', 'mpve_fit')}
