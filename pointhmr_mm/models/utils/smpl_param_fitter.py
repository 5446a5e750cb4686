"""SMPL parameters for predicted meshes, fitted with ``smplfitter``.

PointHMR predicts vertices, not body-model parameters. ``smplfitter``
(Sarandi, MIT) recovers pose, shape and translation from vertices in
correspondence by solving equation systems: no learned weights, no
initialisation, batched on CPU and CUDA.

Shape shorthand: B batch, N mesh vertices of the body model, K joints (24).

Loading. ``smplfitter.pt.BodyModel`` reads a model file by a fixed name
under a folder that defaults to ``$SMPLFITTER_BODY_MODELS``,
``$DATA_ROOT/body_models`` or ``./body_models``, with plain
``pickle.load``, which runs whatever code the file names. So it never sees a
user's file: the project's ``SMPL`` reads the user's file through the
allow-listed loader (``pointhmr_mm.utils.safe_pickle``), this module writes
those arrays (plain numpy only) into a private temporary folder that it
creates, passes that folder explicitly as ``model_root`` (no environment
variable or working-directory folder is consulted), and deletes it once the
library has read it.
"""
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn

from pointhmr_mm.registry import MODELS, TASK_UTILS
from pointhmr_mm.utils.constants import NUM_SMPL_JOINTS

NUM_BODY_JOINTS = 23
# The library's fixed file name for a neutral SMPL model; the arrays we
# write decide the model (any gender or generated body).
LIBRARY_MODEL_FILE = 'basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl'
# The library also reads a kid template; all zeros is its documented
# placeholder (kid fitting then stays off).
LIBRARY_KID_FILE = 'kid_template.npy'
DEFAULT_REGRESSOR = dict(num_samples=512, num_neighbours=256, ridge=1e-4,
                         pose_sigma=0.5, seed=0)


def smpl_arrays(body_model: nn.Module) -> Dict[str, np.ndarray]:
    """The SMPL-file arrays of a project ``SMPL`` module.

    Args:
        body_model: :class:`pointhmr_mm.models.body_models.SMPL`.

    Returns:
        dict: SMPL pickle keys (``v_template`` (N, 3), ``shapedirs``
        (N, 3, S), ``posedirs`` (N, 3, 207), ``J_regressor`` (24, N),
        ``weights`` (N, 24), ``f`` (F, 3), ``kintree_table`` (2, 24)) as
        float64 / int64 numpy arrays.
    """
    if not hasattr(body_model, 'smpl'):
        raise TypeError(f'body_model must be the project\'s SMPL module, got '
                        f'{type(body_model).__name__}')
    smpl = body_model.smpl
    num = smpl.v_template.shape[0]

    def array(t):
        return t.detach().cpu().double().numpy()

    # smplx keeps posedirs as (207, N * 3); the file layout is (N, 3, 207).
    posedirs = array(smpl.posedirs).T.reshape(num, 3, -1)
    parents = smpl.parents.detach().cpu().numpy().astype(np.int64)
    return dict(v_template=array(smpl.v_template),
                shapedirs=array(smpl.shapedirs), posedirs=posedirs,
                J_regressor=array(smpl.J_regressor),
                weights=array(smpl.lbs_weights),
                f=body_model.faces.detach().cpu().numpy().astype(np.int64),
                kintree_table=np.stack([parents, np.arange(len(parents))]))


@torch.no_grad()
def fit_post_lbs_regressor(body_model: nn.Module, num_samples: int = 512,
                           num_neighbours: int = 256, ridge: float = 1e-4,
                           pose_sigma: float = 0.5, seed: int = 0) -> Tensor:
    """A joint regressor for *posed* meshes, fitted in closed form.

    A body model's ``J_regressor`` finds joints on the rest-pose mesh; on a
    posed mesh it drifts (elbows and knees bend the skin around the joint),
    and the fitter, which locates joints from vertices when none are given,
    then converges slowly or not at all (on the full embedded Anny body,
    51 mm mean after 10 iterations, against 1.1 mm with this regressor).
    smplfitter's own post-LBS regressors are trained per body model with
    50k Adam steps; the project's generated bodies have any vertex count,
    so this fits one at construction instead: for each joint, least
    squares over random poses and shapes, on the ``num_neighbours``
    template vertices closest to it, with weights summing to one (so
    translations carry over; the shared xyz weights make it
    rotation-equivariant too).

    Args:
        body_model: The project's ``SMPL``.
        num_samples: Random bodies to fit on.
        num_neighbours: Vertices each joint may use.
        ridge: L2 weight on the regressor weights, in m^2 (spreads them,
            which also averages vertex noise).
        pose_sigma: Std of the random joint rotations (rad).
        seed: Seed of the random bodies.

    Returns:
        Tensor: (24, N) float32 regressor.
    """
    gen = torch.Generator().manual_seed(seed)
    device = body_model.v_template.device
    pose = torch.randn(num_samples, NUM_SMPL_JOINTS * 3, generator=gen) * \
        pose_sigma
    pose[:, :3] = 0  # global rotation adds nothing: the fit is equivariant
    betas = torch.randn(num_samples, body_model.num_betas, generator=gen)
    out = body_model(betas=betas.to(device), body_pose=pose[:, 3:].to(device),
                     global_orient=pose[:, :3].to(device))
    verts = out['vertices'].double()  # (S, N, 3)
    joints = out['joints'][:, :NUM_SMPL_JOINTS].double()  # (S, K, 3)
    template = body_model.v_template.double()
    rest_joints = body_model.smpl.J_regressor.double() @ template
    num = template.shape[0]
    k = min(num_neighbours, num)
    # (K, k) nearest template vertices of each rest-pose joint
    idx = torch.cdist(rest_joints, template).topk(k, largest=False).indices
    # (S, N, 3) -> (K, S * 3, k): one equation per body and coordinate
    design = verts[:, idx].permute(1, 0, 3, 2).reshape(
        NUM_SMPL_JOINTS, -1, k)
    target = joints.permute(1, 0, 2).reshape(NUM_SMPL_JOINTS, -1, 1)
    rows = design.shape[1]
    eye = torch.eye(k, dtype=torch.float64, device=device)
    # min |A w - b|^2 / rows + ridge |w|^2 subject to sum(w) = 1:
    # w = u + mu v with u = G^-1 A^T b / rows, v = G^-1 1 (G is SPD, so
    # Cholesky; batched LU solves fail in some CPU LAPACK builds).
    gram = design.mT @ design / rows + ridge * eye
    rhs = torch.cat([design.mT @ target / rows,
                     torch.ones_like(target[:, :k])], 2)
    solved = torch.cholesky_solve(rhs, torch.linalg.cholesky(gram))
    u, v = solved[..., 0], solved[..., 1]  # (K, k) each
    mu = (1 - u.sum(1, keepdim=True)) / v.sum(1, keepdim=True)
    weights = u + mu * v
    regressor = torch.zeros(NUM_SMPL_JOINTS, num, dtype=torch.float64,
                            device=device)
    regressor.scatter_(1, idx, weights)
    return regressor.float()


def build_library_body_model(arrays: Dict[str, np.ndarray],
                             post_lbs_regressor: Optional[Tensor],
                             num_betas: int) -> nn.Module:
    """A ``smplfitter.pt.BodyModel`` holding ``arrays``.

    The arrays go through a file the project writes itself (see the module
    docstring for why) in a fresh private folder, removed afterwards.
    """
    from smplfitter.pt import BodyModel
    root = Path(tempfile.mkdtemp(prefix='pointhmr_smplfitter_'))
    try:
        with open(root / LIBRARY_MODEL_FILE, 'wb') as f:
            pickle.dump({k: np.ascontiguousarray(v) for k, v in
                         arrays.items()}, f, protocol=4)
        np.save(root / LIBRARY_KID_FILE, np.zeros_like(arrays['v_template']))
        regressor = None if post_lbs_regressor is None else \
            post_lbs_regressor.detach().cpu().double().numpy()
        return BodyModel('smpl', 'neutral', model_root=str(root),
                         num_betas=num_betas,
                         joint_regressor_post_lbs=regressor)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@TASK_UTILS.register_module()
class SMPLParamFitter(nn.Module):
    """Fits SMPL pose, shape and translation to full-mesh vertices.

    Outputs follow smplx / MMHuman3D: axis-angle ``global_orient`` and
    ``body_pose``, ``betas``, ``transl`` (metres) such that
    ``SMPL(betas, body_pose, global_orient, transl)`` reproduces the input
    mesh in the input's own frame.

    Args:
        body_model: The project's ``SMPL`` module, or its config (e.g.
            ``dict(type='SMPL', model_path=...)``); any SMPL-format body,
            generated ones included.
        num_iter: smplfitter iterations (rotation and shape solves
            alternate); more is closer, linearly slower.
        beta_regularizer: L2 weight on the betas, relative to the data
            term of one shape direction (the mean over betas of
            ``sum_n |shapedirs[n, :, b]|^2``), so it means the same for
            bodies of any vertex count and shape scale; one weight for all
            betas (smplfitter's separate one for the first two included).
            0 fits shape freely. On the 600-vertex embedded Anny body
            with betas ~ N(0, 1) (``benchmark_smpl_fit.py`` sweep): 0.001
            changes the fit by < 0.1 mm; 0.1 adds ~4 mm and 1 adds ~8 mm.
        post_lbs_regressor: Keyword arguments of
            :func:`fit_post_lbs_regressor`, or None to use the body model's
            rest-pose ``J_regressor`` as the library does by default.
        final_adjust_rots: smplfitter's final per-part rotation refinement.
    """

    def __init__(self,
                 body_model: Union[nn.Module, dict],
                 num_iter: int = 5,
                 beta_regularizer: float = 0.001,
                 post_lbs_regressor: Optional[dict] = DEFAULT_REGRESSOR,
                 final_adjust_rots: bool = True):
        super().__init__()
        if isinstance(body_model, dict):
            body_model = MODELS.build(body_model)
        if not isinstance(num_iter, int) or num_iter < 1:
            raise ValueError(f'num_iter must be a positive int, got '
                             f'{num_iter!r}')
        if not beta_regularizer >= 0:
            raise ValueError(f'beta_regularizer must be >= 0, got '
                             f'{beta_regularizer!r}')
        arrays = smpl_arrays(body_model)
        if arrays['kintree_table'].shape[1] != NUM_SMPL_JOINTS:
            raise ValueError(f'body model has {arrays["kintree_table"].shape}'
                             ' kintree_table, expected '
                             f'(2, {NUM_SMPL_JOINTS})')
        self.body_model = body_model.requires_grad_(False)
        self.num_betas = body_model.num_betas
        self.num_iter = num_iter
        self.final_adjust_rots = final_adjust_rots
        shape_scale = float((arrays['shapedirs']**2).sum((0, 1)).mean())
        self.beta_regularizer = beta_regularizer
        self.library_beta_regularizer = beta_regularizer * shape_scale
        regressor = None
        if post_lbs_regressor is not None:
            regressor = fit_post_lbs_regressor(
                body_model, **{**DEFAULT_REGRESSOR, **post_lbs_regressor})
        from smplfitter.pt import BodyFitter
        self.fitter = BodyFitter(
            build_library_body_model(arrays, regressor, self.num_betas))

    @property
    def num_vertices(self) -> int:
        return self.body_model.num_vertices

    def _check(self, vertices: Tensor, joints: Optional[Tensor]) -> None:
        if not isinstance(vertices, Tensor) or vertices.ndim != 3 or \
                vertices.shape[1:] != (self.num_vertices, 3):
            shape = tuple(vertices.shape) if isinstance(vertices, Tensor) \
                else type(vertices).__name__
            raise ValueError(f'vertices must be (B, {self.num_vertices}, 3) '
                             f'for this body model, got {shape}')
        if not torch.isfinite(vertices).all():
            raise ValueError('vertices contain NaN or inf')
        if joints is not None and (
                not isinstance(joints, Tensor)
                or joints.shape != (vertices.shape[0], NUM_SMPL_JOINTS, 3)):
            shape = tuple(joints.shape) if isinstance(joints, Tensor) else \
                type(joints).__name__
            raise ValueError(f'joints must be (B, {NUM_SMPL_JOINTS}, 3) SMPL '
                             f'joints matching vertices, got {shape}')

    def forward(self, vertices: Tensor,
                joints: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Fit parameters to meshes.

        Args:
            vertices: (B, N, 3) full-mesh vertices in metres, any frame.
            joints: (B, 24, 3) SMPL kinematic joints in the same frame, if
                known; otherwise the fitter regresses them from vertices.

        Returns:
            dict: ``global_orient`` (B, 3), ``body_pose`` (B, 23, 3)
            axis-angle; ``betas`` (B, num_betas); ``transl`` (B, 3);
            ``vertices`` (B, N, 3), the fitted mesh posed by the project's
            body model; ``mpve_fit`` (B,), mean distance in metres between
            the fitted and the input vertices.
        """
        self._check(vertices, joints)
        target = vertices.float()
        device = target.device
        fitter = self.fitter.to(device)
        batch = target.shape[0]
        if batch == 0:
            empty = target.new_zeros
            return dict(global_orient=empty(0, 3),
                        body_pose=empty(0, NUM_BODY_JOINTS, 3),
                        betas=empty(0, self.num_betas), transl=empty(0, 3),
                        vertices=empty(0, self.num_vertices, 3),
                        mpve_fit=empty(0))
        with torch.autocast(device.type, enabled=False):
            result = fitter.fit(
                target,
                target_joints=None if joints is None else joints.float(),
                num_iter=self.num_iter,
                beta_regularizer=self.library_beta_regularizer,
                beta_regularizer2=self.library_beta_regularizer,
                final_adjust_rots=self.final_adjust_rots,
                requested_keys=['pose_rotvecs', 'shape_betas', 'trans'])
            pose = result['pose_rotvecs'].view(batch, NUM_SMPL_JOINTS, 3)
            params = dict(global_orient=pose[:, 0],
                          body_pose=pose[:, 1:],
                          betas=result['shape_betas'],
                          transl=result['trans'])
            fitted = self.body_model.to(device)(
                betas=params['betas'],
                body_pose=params['body_pose'].reshape(batch, -1),
                global_orient=params['global_orient'],
                transl=params['transl'])['vertices']
        params['vertices'] = fitted
        params['mpve_fit'] = (fitted - target).norm(dim=-1).mean(-1)
        return params
