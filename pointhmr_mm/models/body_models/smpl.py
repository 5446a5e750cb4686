"""The SMPL body model on top of smplx, loading files without chumpy.

Shape shorthand: B batch, N mesh vertices (6890 for SMPL), J joints.
"""
import contextlib
import io
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np
import scipy.sparse as sp
import smplx
import torch
from smplx.utils import Struct
from torch import Tensor, nn

from pointhmr_mm.registry import MODELS
from pointhmr_mm.utils.constants import (NUM_POSE, NUM_POSE_CORRECTIVES,
                                         NUM_SMPL_JOINTS)
from pointhmr_mm.utils.safe_pickle import load_npz, load_pickle

NUM_BODY_POSE = NUM_POSE - 3  # without the global orientation
REQUIRED_KEYS = ('v_template', 'f', 'weights', 'kintree_table', 'J_regressor',
                 'shapedirs', 'posedirs')
GENDER_TAGS = dict(neutral='NEUTRAL', male='MALE', female='FEMALE')
# SMPLify / METRO file names of the official release.
OFFICIAL_NAMES = dict(
    neutral='basicModel_neutral_lbs_10_207_0_v1.0.0.pkl',
    male='basicmodel_m_lbs_10_207_0_v1.0.0.pkl',
    female='basicModel_f_lbs_10_207_0_v1.0.0.pkl')


def find_body_model_file(model_path: Union[str, Path], gender: str) -> Path:
    """Resolve a file, or a folder in MMHuman3D's or METRO's layout."""
    path = Path(model_path)
    if gender not in GENDER_TAGS:
        raise ValueError(f'gender must be one of {list(GENDER_TAGS)}, got '
                         f'"{gender}"')
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f'{path}: no such body-model file or folder')
    tag = GENDER_TAGS[gender]
    tried = [
        path / sub / f'SMPL_{tag}.{ext}' for sub in ('', 'smpl')
        for ext in ('pkl', 'npz')
    ] + [path / OFFICIAL_NAMES[gender]]
    for candidate in tried:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f'no {gender} SMPL model in {path}; tried ' +
        ', '.join(str(p.relative_to(path)) for p in tried))


def load_body_model_arrays(path: Union[str, Path]) -> Dict[str, object]:
    """Read an SMPL-format ``.pkl`` (chumpy-free) or ``.npz`` and check it.

    Returns:
        dict: the file's arrays; ``J_regressor`` becomes dense.
    """
    path = Path(path)
    data = load_npz(path) if path.suffix == '.npz' else load_pickle(path)
    if not isinstance(data, dict):
        raise ValueError(f'{path.name} holds a {type(data).__name__}, not a '
                         'dict of SMPL arrays')
    for key in REQUIRED_KEYS:
        if key not in data:
            raise KeyError(f"{path.name} has no key '{key}'")
    data = dict(data)
    if sp.issparse(data['J_regressor']):
        data['J_regressor'] = data['J_regressor'].toarray()
    num_vertices = np.asarray(data['v_template']).shape[0]
    expected = dict(v_template=(num_vertices, 3),
                    weights=(num_vertices, NUM_SMPL_JOINTS),
                    J_regressor=(NUM_SMPL_JOINTS, num_vertices),
                    kintree_table=(2, NUM_SMPL_JOINTS))
    for key, shape in expected.items():
        actual = np.asarray(data[key]).shape
        if actual != shape:
            raise ValueError(f"{path.name}: '{key}' has shape {actual}, "
                             f'expected {shape}')
    shapedirs = np.asarray(data['shapedirs']).shape
    if len(shapedirs) != 3 or shapedirs[:2] != (num_vertices, 3):
        raise ValueError(f"{path.name}: 'shapedirs' has shape {shapedirs}, "
                         f'expected ({num_vertices}, 3, K)')
    posedirs = np.asarray(data['posedirs']).shape
    if posedirs != (num_vertices, 3, NUM_POSE_CORRECTIVES):
        raise ValueError(f"{path.name}: 'posedirs' has shape {posedirs}, "
                         f'expected ({num_vertices}, 3, '
                         f'{NUM_POSE_CORRECTIVES})')
    faces = np.asarray(data['f'])
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.min() < 0 or \
            faces.max() >= num_vertices:
        raise ValueError(f"{path.name}: 'f' must be (F, 3) indices below "
                         f'{num_vertices}, got shape {faces.shape}')
    return data


class _KeepJoints(nn.Module):
    """Stands in for smplx's vertex-joint selector, whose fixed SMPL vertex
    ids do not exist on other meshes; keeps the 24 kinematic joints."""

    def forward(self, vertices, joints):
        return joints


@MODELS.register_module()
class SMPL(nn.Module):
    """SMPL body model (smplx's LBS) that loads official files without
    chumpy, ``.npz`` files and the project's embedded Anny body.

    Args:
        model_path: A model file, or a folder in MMHuman3D's
            (``SMPL_NEUTRAL.pkl``, ``smpl/SMPL_NEUTRAL.pkl``) or METRO's
            (``basicModel_neutral_lbs_10_207_0_v1.0.0.pkl``) layout.
        gender: 'neutral', 'male' or 'female'.
        num_betas: Shape components to use.
        joint_regressors: Extra regressors, name -> ``.npy`` path of a
            (J, N) matrix, e.g. ``dict(h36m='J_regressor_h36m.npy')``.
    """

    def __init__(self,
                 model_path: Union[str, Path],
                 gender: str = 'neutral',
                 num_betas: int = 10,
                 joint_regressors: Optional[Dict[str, str]] = None):
        super().__init__()
        self.gender = gender
        self.model_file = find_body_model_file(model_path, gender)
        data = load_body_model_arrays(self.model_file)
        available = np.asarray(data['shapedirs']).shape[-1]
        if available < num_betas:
            raise ValueError(f'{self.model_file.name} has {available} shape '
                             f'components, fewer than num_betas={num_betas}')
        self.num_betas = num_betas
        # smplx prints "with only 10 shape coefficients" for every file with
        # fewer than 300; the count was checked above
        with contextlib.redirect_stdout(io.StringIO()):
            self.smpl = smplx.SMPL(
                model_path='', data_struct=Struct(**data), gender=gender,
                num_betas=num_betas, create_betas=False,
                create_global_orient=False, create_body_pose=False,
                create_transl=False)
        self.smpl.vertex_joint_selector = _KeepJoints()
        # The kinematic tree stays on the CPU, out of .to(device): smplx's
        # skinning indexes a Python list with each parent, which on a CUDA
        # tensor is a host-device synchronisation per joint (23 a call,
        # stalling every training step that builds GT meshes).
        parents = self.smpl._buffers.pop('parents')
        self.smpl.parents = parents.cpu()
        self.register_buffer('faces', torch.as_tensor(
            np.asarray(data['f'], dtype=np.int64)))
        self.regressor_names = []
        for name, file in (joint_regressors or {}).items():
            self.add_regressor(name, file)

    def add_regressor(self, name: str, file: Union[str, Path]) -> None:
        """Register a (J, N) joint regressor read from an ``.npy`` file."""
        file = Path(file)
        if not file.is_file():
            raise FileNotFoundError(f'{file}: no such joint regressor '
                                    f'("{name}")')
        matrix = np.load(file, allow_pickle=False)
        if matrix.ndim != 2 or matrix.shape[1] != self.num_vertices:
            raise ValueError(f'{file.name}: regressor "{name}" has shape '
                             f'{matrix.shape}, expected (J, '
                             f'{self.num_vertices})')
        self.register_buffer(f'regressor_{name}',
                             torch.as_tensor(matrix, dtype=torch.float32))
        self.regressor_names.append(name)

    @property
    def num_vertices(self) -> int:
        return self.smpl.v_template.shape[0]

    @property
    def num_joints(self) -> int:
        return NUM_SMPL_JOINTS

    @property
    def v_template(self) -> Tensor:
        """(N, 3) template vertices."""
        return self.smpl.v_template

    def regress(self, vertices: Tensor, name: str) -> Tensor:
        """(B, N, 3) -> (B, J, 3) with the extra regressor ``name``."""
        if name not in self.regressor_names:
            raise KeyError(f'no joint regressor "{name}"; this model has '
                           f'{self.regressor_names}')
        return torch.einsum('jn,bnc->bjc', getattr(self, f'regressor_{name}'),
                            vertices)

    @staticmethod
    def _check_input(name: str, value: Tensor, width: int) -> int:
        """Check a (B, width) input; returns B."""
        if not isinstance(value, Tensor) or value.ndim != 2 or \
                value.shape[1] != width:
            shape = tuple(value.shape) if isinstance(value, Tensor) else \
                type(value).__name__
            raise ValueError(f'{name} must be a (B, {width}) tensor, got '
                             f'{shape}')
        return value.shape[0]

    def forward(self,
                betas: Optional[Tensor] = None,
                body_pose: Optional[Tensor] = None,
                global_orient: Optional[Tensor] = None,
                transl: Optional[Tensor] = None,
                pose: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Pose and shape the mesh.

        Args:
            betas: (B, num_betas); zeros when None.
            body_pose: (B, 69) axis-angle of joints 1..23.
            global_orient: (B, 3) axis-angle of the root.
            transl: (B, 3) metres.
            pose: (B, 72), an alternative to ``global_orient`` +
                ``body_pose``.

        Returns:
            dict: ``vertices`` (B, N, 3), ``joints`` (B, 24, 3) and each
            extra regressor's (B, J, 3) under its name.
        """
        if pose is not None:
            if body_pose is not None or global_orient is not None:
                raise ValueError('pass either pose or body_pose + '
                                 'global_orient, not both')
            self._check_input('pose', pose, NUM_POSE)
            global_orient, body_pose = pose[:, :3], pose[:, 3:]
        inputs = dict(betas=(betas, self.num_betas),
                      body_pose=(body_pose, NUM_BODY_POSE),
                      global_orient=(global_orient, 3), transl=(transl, 3))
        sizes = {name: self._check_input(name, value, width)
                 for name, (value, width) in inputs.items()
                 if value is not None}
        if len(set(sizes.values())) > 1:
            raise ValueError(f'inputs disagree on the batch size: {sizes}')
        batch = next(iter(sizes.values()), 1)
        ref = self.smpl.v_template
        zeros = lambda n: ref.new_zeros(batch, n)  # noqa: E731
        out = self.smpl(
            betas=zeros(self.num_betas) if betas is None else betas,
            body_pose=zeros(NUM_BODY_POSE) if body_pose is None else
            body_pose,
            global_orient=zeros(3) if global_orient is None else
            global_orient,
            transl=transl)
        result = dict(vertices=out.vertices, joints=out.joints)
        for name in self.regressor_names:
            result[name] = self.regress(out.vertices, name)
        return result
