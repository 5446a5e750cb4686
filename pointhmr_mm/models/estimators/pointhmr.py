"""The PointHMR estimator: backbone -> sampling neck -> masked head.

Shape shorthand: B batch, J joints (14), V coarse vertices, N full-mesh
vertices.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmcv.cnn import fuse_conv_bn
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import Tensor, nn
from torch.utils.checkpoint import set_checkpoint_early_stop

from pointhmr_mm.models.body_models.smpl import find_body_model_file
from pointhmr_mm.models.utils.checkpointing import guard_batch_norm_recompute
from pointhmr_mm.models.utils.precision import full_precision, to_float
from pointhmr_mm.registry import MODELS, TASK_UTILS
from pointhmr_mm.utils.cpu import resolve_channels_last
from pointhmr_mm.utils.keypoints import H36M_TO_J14, PELVIS_H36M

GENDERS = ('neutral', 'male', 'female')
SampleList = List[BaseDataElement]


def _freeze_as_constants(module: nn.Module) -> None:
    """Freeze a body model and keep its buffers out of checkpoints.

    SMPL's licence forbids redistributing its data, and checkpoints get
    shared, so the body model is rebuilt from the user's files instead of
    being saved.
    """
    module.requires_grad_(False)
    for sub in module.modules():
        sub._non_persistent_buffers_set.update(sub._buffers.keys())
        for name in list(sub._parameters):
            param = sub._parameters.pop(name)
            if param is not None:
                sub.register_buffer(name, param.detach(), persistent=False)


@MODELS.register_module()
class PointHMR(BaseModel):
    """Point-guided 3D human mesh recovery (Kim et al., CVPR 2023).

    Args:
        backbone: Multi-scale backbone config, e.g.
            ``dict(type='mmpretrain.HRNet', arch='w32')``.
        neck: :class:`PointGuidedSamplingNeck` config.
        head: :class:`MaskedMeshTransformerHead` config.
        body_model: ``SMPL`` config (neutral); it must carry the joint
            regressor named by ``mesh_regressor``.
        mesh_regressor: Name of the body model's 17-joint H36M regressor.
        gendered_eval: Use male and female body models too for GT meshes
            of samples whose metainfo gives a gender (built when first
            needed; their files must exist from the start).
        data_preprocessor: Normalises images (BGR -> RGB, ImageNet stats).
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
                 body_model: dict,
                 mesh_regressor: str = 'h36m',
                 gendered_eval: bool = False,
                 channels_last: Union[bool, str] = False,
                 compile_modules: Union[bool, dict] = False,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.head = MODELS.build(head)
        if self.neck.num_vertices != self.head.num_vertices:
            raise ValueError(
                f'neck.num_vertices={self.neck.num_vertices} differs from '
                f'the mesh sampler\'s coarse level '
                f'({self.head.num_vertices} vertices)')
        self.mesh_regressor = mesh_regressor
        self.train_cfg = train_cfg or {}
        self.test_cfg = test_cfg or {}
        self.genders = GENDERS if gendered_eval else GENDERS[:1]
        self._body_model_cfg = copy.deepcopy(body_model)
        self.body_models = nn.ModuleDict()
        self._build_body_model('neutral')
        if 'model_path' in body_model:
            # The male and female models are built when evaluation first
            # needs them (training uses the neutral one; they cost about
            # 30 MB of memory at SMPL's size), but their files are looked
            # up now, so that a missing one fails before training starts.
            for gender in self.genders[1:]:
                find_body_model_file(body_model['model_path'], gender)
        self._batch_norms_guarded = False  # see loss()
        # a device tensor, not a list (copied to the device at every call)
        self.register_buffer('j14_index', torch.as_tensor(H36M_TO_J14),
                             persistent=False)
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

    def _build_body_model(self, gender: str) -> nn.Module:
        cfg = copy.deepcopy(self._body_model_cfg)
        cfg['gender'] = gender
        module = MODELS.build(cfg)
        _freeze_as_constants(module)
        neutral = next(self.body_model.buffers(), None) \
            if self.body_models else None
        if neutral is not None:  # follow the neutral model's device
            module.to(neutral.device)
        self.body_models[gender] = module
        return module

    def get_body_model(self, gender: str) -> nn.Module:
        """The body model of ``gender`` (one of :attr:`genders`), built on
        first use."""
        if gender not in self.genders:
            raise KeyError(f'no body model for gender "{gender}"; set '
                           'gendered_eval=True to build male and female '
                           'models')
        if gender not in self.body_models:
            return self._build_body_model(gender)
        return self.body_models[gender]

    @property
    def body_model(self) -> nn.Module:
        """The neutral body model (its ``faces`` are the full mesh's)."""
        return self.body_models['neutral']

    @property
    def mesh_sampler(self) -> nn.Module:
        return self.head.mesh_sampler

    # ------------------------------------------------------------------ #
    # network
    # ------------------------------------------------------------------ #
    def extract_feat(self, inputs: Tensor) -> Dict[str, Optional[Tensor]]:
        """(B, 3, 224, 224) normalised images -> the neck's token dict."""
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return self.neck(self.backbone(inputs))

    def _run(self, inputs: Tensor) -> Dict[str, object]:
        tokens = self.extract_feat(inputs)
        outputs = self.head(tokens)
        outputs['heatmap_logits'] = tokens['heatmap_logits']
        outputs['heatmap_probs'] = tokens.get('heatmap_probs')
        outputs['pred_mesh_joints_3d'] = self.regress_j14(
            outputs['pred_vertices'][-1])
        return outputs

    def regress_h36m(self, vertices: Tensor) -> Tensor:
        """(B, N, 3) -> (B, 17, 3) H36M joints from a full mesh (fp32,
        also under autocast)."""
        with full_precision(vertices):
            return self.body_model.regress(vertices.float(),
                                           self.mesh_regressor)

    def regress_j14(self, vertices: Tensor) -> Tensor:
        """(B, N, 3) -> (B, 14, 3) LSP-14 joints from a full mesh."""
        return self.regress_h36m(vertices)[:, self.j14_index]

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
    # ground truth
    # ------------------------------------------------------------------ #
    def gt_meshes(self, pose: Tensor, betas: Tensor,
                  genders: Optional[Sequence[str]] = None
                  ) -> Tuple[List[Tensor], Tensor]:
        """GT meshes at every level, centred on the GT pelvis.

        Args:
            pose: (B, 72) axis-angle.
            betas: (B, 10).
            genders: Per-sample gender; None for the neutral model.

        Returns:
            tuple: list of (B, n_l, 3) from coarse to full mesh, and the
            (B, 17, 3) H36M joints of the centred full mesh.
        """
        if torch.is_autocast_enabled(pose.device.type):
            # The body model runs in fp32 (its skinning matmuls in bf16
            # would move GT vertices by millimetres).
            with full_precision(pose):
                return self.gt_meshes(pose.float(), betas.float(), genders)
        genders = genders or ['neutral'] * pose.shape[0]
        models = {g: self.get_body_model(g) for g in set(genders)}
        if len(models) == 1:
            # one body model for the batch (always so in training): no
            # index tensors to copy to the device, no scatter
            vertices = models[genders[0]](
                betas=betas, body_pose=pose[:, 3:],
                global_orient=pose[:, :3])['vertices']
        else:
            vertices = pose.new_zeros(pose.shape[0],
                                      self.body_model.num_vertices, 3)
            for gender, model in models.items():
                idx = [i for i, g in enumerate(genders) if g == gender]
                out = model(betas=betas[idx], body_pose=pose[idx, 3:],
                            global_orient=pose[idx, :3])
                vertices[idx] = out['vertices']
        pelvis = self.body_models['neutral'].regress(
            vertices, self.mesh_regressor)[:, PELVIS_H36M]
        vertices = vertices - pelvis[:, None]
        num_levels = len(self.mesh_sampler.num_vertices)
        levels = [
            self.mesh_sampler.downsample(vertices, 0, level)
            for level in range(num_levels - 1, 0, -1)
        ] + [vertices]
        return levels, self.regress_h36m(vertices)

    @staticmethod
    def _stack(data_samples: SampleList, key: str) -> Tensor:
        return torch.stack([getattr(s, key) for s in data_samples])

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
        gt_vertices, _ = self.gt_meshes(self._stack(data_samples, 'gt_pose'),
                                        self._stack(data_samples, 'gt_betas'))
        targets = dict(
            gt_vertices=gt_vertices,
            has_smpl=self._stack(data_samples, 'has_smpl'),
            gt_keypoints_3d=self._stack(data_samples, 'gt_keypoints_3d'),
            gt_keypoints_2d=self._stack(data_samples, 'gt_keypoints_2d'))
        # Loss reductions in fp32 under autocast. The heatmap logits stay
        # as they are: the losses read their fp32 softmax (heatmap_probs),
        # and an fp32 copy of the (B, V, H, W) map and its cast back in
        # backward cost two passes over it for nothing.
        logits = outputs.pop('heatmap_logits')
        outputs = to_float(outputs)
        outputs['heatmap_logits'] = logits
        with full_precision(inputs):
            return self.head.loss(outputs, to_float(targets))

    def fuse_conv_bn(self) -> 'PointHMR':
        """Fold every batch norm of the backbone and the neck into the
        convolution before it (mmcv's ``fuse_conv_bn``), for inference.

        Each fused conv computes ``conv(x) * s + t`` with the batch norm's
        running statistics folded into its weight and bias, so outputs
        equal the unfused model's to float rounding. W32 at batch 1 in bf16
        on the AMX Xeon: about 10% faster (README, "Speed and memory").
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
            pred_keypoints_3d_h36m=self.regress_h36m(fine),
            pred_camera=outputs['pred_camera'])
        if (self.test_cfg.get('output_heatmaps')
                and outputs['heatmap_logits'] is not None):
            logits = outputs['heatmap_logits']
            pred['pred_heatmaps'] = outputs['heatmap_probs'].view_as(logits)
        if self.test_cfg.get('fit_smpl'):
            pred.update(self.fit_smpl(fine))
        self._add_gt_meshes(data_samples, pred)
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

    def _add_gt_meshes(self, data_samples: SampleList, pred: Dict) -> None:
        """Put gendered GT meshes of labelled samples into ``pred``."""
        with_flag = [i for i, s in enumerate(data_samples) if 'has_smpl' in s]
        if not with_flag:
            return
        # one read of the flags, not one device synchronisation a sample
        flags = torch.stack([torch.as_tensor(data_samples[i].has_smpl)
                             for i in with_flag]).flatten() > 0
        labelled = [i for i, f in zip(with_flag, flags.tolist()) if f]
        if not labelled:
            return
        samples = [data_samples[i] for i in labelled]
        genders = [s.metainfo.get('gender', 'neutral') for s in samples]
        genders = [g if g in self.genders else 'neutral' for g in genders]
        levels, joints = self.gt_meshes(self._stack(samples, 'gt_pose'),
                                        self._stack(samples, 'gt_betas'),
                                        genders)
        for pos, i in enumerate(labelled):
            data_samples[i].set_data(
                dict(gt_vertices=levels[-1][pos].detach(),
                     gt_keypoints_3d_h36m=joints[pos].detach()))
