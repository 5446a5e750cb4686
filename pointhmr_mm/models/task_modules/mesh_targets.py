"""Mesh targets: the body models, the mesh hierarchy and the heatmap
geometry that the estimator, the head and the losses share (the part of
PointHMR that mmpose keeps in a codec).

Shape shorthand: B batch, N full-mesh vertices, V coarse vertices, n_l the
vertices of hierarchy level l.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.structures import BaseDataElement
from torch import Tensor, nn

from pointhmr_mm.models.body_models.smpl import find_body_model_file
from pointhmr_mm.models.utils.mesh_sampler import MeshSampler
from pointhmr_mm.models.utils.precision import full_precision
from pointhmr_mm.registry import MODELS, TASK_UTILS
from pointhmr_mm.utils.constants import GENDERS
from pointhmr_mm.utils.geometry import weak_perspective_projection
from pointhmr_mm.utils.keypoints import H36M_TO_J14, PELVIS_H36M

SampleList = List[BaseDataElement]
# The coarsest map of HRNet and ResNet is 1/32 of the crop; its pixels are
# the grid tokens.
GRID_STRIDE = 32


def freeze_as_constants(module: nn.Module) -> None:
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


def _positive(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f'MeshTargets: {name} must be a positive int, got '
                         f'{value!r}')
    return value


@TASK_UTILS.register_module()
class MeshTargets(nn.Module):
    """What a PointHMR model predicts and is compared with, in one place.

    It owns the body models (gendered, built when first needed, frozen,
    never in checkpoints), the mesh hierarchy, the making of GT meshes and
    joints (centred on the GT pelvis) and the heatmap geometry. Built once
    from ``model.mesh_targets``; the estimator hands it to the head, which
    hands its values to the losses. All its buffers are non-persistent, so
    it adds nothing to a state dict.

    Args:
        crop_size: Side of the square input crop in pixels (224 released); a
            multiple of 32. The grid tokens are its 1/32 map.
        body_model: ``SMPL`` config (neutral); it must carry the joint
            regressor named by ``mesh_regressor``.
        mesh_sampler: ``MeshSampler`` config (TASK_UTILS) or instance. Its
            finest level must be the body model's mesh.
        num_vertices: Coarse vertices V the config expects (431 for SMPL's
            hierarchy); None takes the sampler's coarsest level.
        mesh_regressor: Name of the body model's 17-joint H36M regressor.
        gendered_eval: Also use male and female body models for GT meshes
            of samples whose metainfo gives a gender (built when first
            needed; their files must exist from the start).
        heatmap_stride: Stride of the vertex heatmaps on the crop (4: the
            56 px map of a 224 crop; 8 for a neck reading HRNet's 1/8
            branch).
        heatmap_upscale: Nearest upsampling of the heatmaps at which the
            loss places its targets (2 as released: 112 px at 224).
        joints_from_mesh: For training samples with SMPL labels but no 3D
            joints (every confidence 0: 3DPW's and BEDLAM's files), take the
            LSP-14 joints of the GT mesh (the H36M regressor) as 3D joint
            targets, so the 3D joint losses are not left without a target.
            Off by default: METRO's files carry their own joints.
    """

    def __init__(self,
                 crop_size: int,
                 body_model: dict,
                 mesh_sampler: Union[dict, MeshSampler],
                 num_vertices: Optional[int] = None,
                 mesh_regressor: str = 'h36m',
                 gendered_eval: bool = False,
                 heatmap_stride: int = 4,
                 heatmap_upscale: int = 2,
                 joints_from_mesh: bool = False):
        super().__init__()
        self.crop_size = _positive('crop_size', crop_size)
        for name, stride in (('the grid stride', GRID_STRIDE),
                             ('heatmap_stride', heatmap_stride)):
            if crop_size % _positive(name, stride):
                raise ValueError(f'MeshTargets: crop_size={crop_size} is not '
                                 f'a multiple of {name}={stride}')
        self.heatmap_stride = heatmap_stride
        self.heatmap_upscale = _positive('heatmap_upscale', heatmap_upscale)
        self.mesh_regressor = mesh_regressor
        self.joints_from_mesh = bool(joints_from_mesh)
        self.genders = GENDERS if gendered_eval else GENDERS[:1]
        self._body_model_cfg = copy.deepcopy(dict(body_model))
        self.body_models = nn.ModuleDict()
        self._build_body_model('neutral')
        if 'model_path' in body_model:
            # The male and female models are built when evaluation first
            # needs them (training uses the neutral one; about 30 MB at
            # SMPL's size), but their files are looked up now, so that a
            # missing one fails before training starts.
            for gender in self.genders[1:]:
                find_body_model_file(body_model['model_path'], gender)
        self.mesh_sampler = (TASK_UTILS.build(mesh_sampler)
                             if isinstance(mesh_sampler, dict) else
                             mesh_sampler)
        sampler_file = (mesh_sampler.get('filename', '<matrices>')
                        if isinstance(mesh_sampler, dict) else
                        self.mesh_sampler.source)
        self._check_sampler(str(sampler_file), num_vertices)
        # a device tensor, not a list (copied to the device at every call)
        self.register_buffer('j14_index', torch.as_tensor(H36M_TO_J14),
                             persistent=False)

    def _check_sampler(self, sampler_file: str,
                       num_vertices: Optional[int]) -> None:
        """The hierarchy must start at the body's mesh and end at V."""
        levels = self.mesh_sampler.num_vertices
        body = self.body_model
        body_file = getattr(body, 'model_file',
                            self._body_model_cfg.get('model_path'))
        if levels[0] != body.num_vertices:
            raise ValueError(
                f'mesh sampler {sampler_file} starts at a {levels[0]}-vertex '
                f'mesh, but the body model {body_file} has '
                f'{body.num_vertices} vertices: the two files belong to '
                'different meshes')
        if num_vertices is not None and num_vertices != levels[-1]:
            raise ValueError(
                f'mesh_targets.num_vertices={num_vertices}, but the coarsest '
                f'level of mesh sampler {sampler_file} has {levels[-1]} '
                'vertices')

    # ------------------------------------------------------------------ #
    # geometry
    # ------------------------------------------------------------------ #
    @property
    def num_vertices(self) -> int:
        """Coarse vertices V (the neck's heatmaps, the head's tokens)."""
        return self.mesh_sampler.num_vertices[-1]

    @property
    def num_grid_tokens(self) -> int:
        """Pixels of the backbone's coarsest (1/32) map of a crop."""
        return (self.crop_size // GRID_STRIDE)**2

    @property
    def heatmap_size(self) -> int:
        """Side of the neck's vertex heatmaps (56 for a 224 crop)."""
        return self.crop_size // self.heatmap_stride

    @property
    def target_size(self) -> int:
        """Side of the upsampled map the heatmap targets are placed on."""
        return self.heatmap_size * self.heatmap_upscale

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
    def pixel_index(xy: Tensor, size: int) -> Tensor:
        """Flat index of the pixel holding each point, or -1 off the map.

        Each coordinate is floored and bounded on its own, so a point just
        left of or above the map is off it, and one past the left or right
        edge does not wrap to another row (the released ``make_gt``
        truncates toward zero and bounds only the flat index).

        Args:
            xy: (..., 2) normalised coordinates, [-1, 1] across the map.
            size: Side of the square map.

        Returns:
            Tensor: (...) long.
        """
        pixel = torch.floor((xy + 1) / 2 * size).long()
        inside = ((pixel >= 0) & (pixel < size)).all(dim=-1)
        index = pixel[..., 1] * size + pixel[..., 0]
        return torch.where(inside, index, torch.full_like(index, -1))

    def heatmap_targets(self, gt_vertices_coarse: Tensor,
                        pred_camera: Tensor) -> Tensor:
        """The heatmap pixel of each GT coarse vertex, projected with the
        predicted camera (no gradient) onto the ``target_size`` map as
        released and mapped to its parent on the ``heatmap_size`` map.

        Args:
            gt_vertices_coarse: (B, V, 3) metres.
            pred_camera: (B, 3) weak-perspective camera.

        Returns:
            Tensor: (B, V) long flat index on the heatmap, -1 off the map.
        """
        with torch.no_grad():
            xy = weak_perspective_projection(gt_vertices_coarse, pred_camera)
            index = self.pixel_index(xy, self.target_size)
            return self.parent_pixels(index, self.target_size,
                                      self.heatmap_upscale)

    # ------------------------------------------------------------------ #
    # body models
    # ------------------------------------------------------------------ #
    def _build_body_model(self, gender: str) -> nn.Module:
        cfg = copy.deepcopy(self._body_model_cfg)
        cfg['gender'] = gender
        module = MODELS.build(cfg)
        freeze_as_constants(module)
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
                           'mesh_targets.gendered_eval=True to build male '
                           'and female models')
        if gender not in self.body_models:
            return self._build_body_model(gender)
        return self.body_models[gender]

    @property
    def body_model(self) -> nn.Module:
        """The neutral body model (its ``faces`` are the full mesh's)."""
        return self.body_models['neutral']

    def regress_h36m(self, vertices: Tensor) -> Tensor:
        """(B, N, 3) -> (B, 17, 3) H36M joints from a full mesh (fp32,
        also under autocast)."""
        with full_precision(vertices):
            return self.body_model.regress(vertices.float(),
                                           self.mesh_regressor)

    def regress_j14(self, vertices: Tensor) -> Tensor:
        """(B, N, 3) -> (B, 14, 3) LSP-14 joints from a full mesh."""
        return self.regress_h36m(vertices)[:, self.j14_index]

    # ------------------------------------------------------------------ #
    # ground truth
    # ------------------------------------------------------------------ #
    def _posed_vertices(self, pose: Tensor, betas: Tensor,
                        genders: Sequence[str]) -> Tensor:
        """(B, 72), (B, 10) -> (B, N, 3) with each sample's body model."""
        models = {g: self.get_body_model(g) for g in set(genders)}
        if len(models) == 1:
            # one body model for the batch (always so in training): no
            # index tensors to copy to the device, no scatter
            return models[genders[0]](betas=betas, body_pose=pose[:, 3:],
                                      global_orient=pose[:, :3])['vertices']
        vertices = pose.new_zeros(pose.shape[0], self.body_model.num_vertices,
                                  3)
        for gender, model in models.items():
            idx = [i for i, g in enumerate(genders) if g == gender]
            out = model(betas=betas[idx], body_pose=pose[idx, 3:],
                        global_orient=pose[idx, :3])
            vertices[idx] = out['vertices']
        return vertices

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
        vertices = self._posed_vertices(
            pose, betas, genders or ['neutral'] * pose.shape[0])
        pelvis = self.body_model.regress(
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

    def loss_targets(self, data_samples: SampleList) -> Dict[str, object]:
        """What the head's losses compare with (neutral GT meshes).

        Returns:
            dict: ``gt_vertices`` list of (B, n_l, 3) coarse to full,
            pelvis-centred; ``has_smpl`` (B,); ``gt_keypoints_3d``
            (B, J, 4); ``gt_keypoints_2d`` (B, J, 3) in [-1, 1].
        """
        gt_vertices, gt_h36m = self.gt_meshes(
            self._stack(data_samples, 'gt_pose'),
            self._stack(data_samples, 'gt_betas'))
        has_smpl = self._stack(data_samples, 'has_smpl')
        joints = self._stack(data_samples, 'gt_keypoints_3d')
        if self.joints_from_mesh:
            # (B,): a mesh label and no joint label (masks, no host sync)
            fill = (joints[..., 3] <= 0).all(dim=1) & (has_smpl.view(-1) > 0)
            mesh_joints = gt_h36m[:, self.j14_index]
            mesh_joints = torch.cat(
                [mesh_joints, torch.ones_like(mesh_joints[..., :1])], dim=-1)
            joints = torch.where(fill[:, None, None],
                                 mesh_joints.to(joints.dtype), joints)
        return dict(
            gt_vertices=gt_vertices,
            has_smpl=has_smpl,
            gt_keypoints_3d=joints,
            gt_keypoints_2d=self._stack(data_samples, 'gt_keypoints_2d'))

    def add_gt_meshes(self, data_samples: SampleList) -> None:
        """Set ``gt_vertices`` (N, 3) and ``gt_keypoints_3d_h36m`` (17, 3)
        on the samples labelled with SMPL parameters, with the body model
        of their metainfo's gender (neutral where it has none)."""
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
        for pos, sample in enumerate(samples):
            sample.set_data(
                dict(gt_vertices=levels[-1][pos].detach(),
                     gt_keypoints_3d_h36m=joints[pos].detach()))

    def extra_repr(self) -> str:
        return (f'crop_size={self.crop_size}, num_vertices='
                f'{self.num_vertices}, genders={self.genders}, '
                f'heatmap {self.heatmap_size} px (targets at '
                f'{self.target_size} px)')
