"""Convex joint regressors for the baked Anny body.

Every regressor here is convex: non-negative rows that sum to one, so a
regressed joint is a weighted mean of mesh vertices. PointHMR regresses
joints from *predicted* meshes, where the large positive and negative
weights of an unconstrained fit would amplify the noise (Anny's knee
slides along the leg with ``height``, which an exact fit follows only
with weights of -4.6..+3.1).

Shape shorthand: S shapes, N vertices, J joints, M candidate vertices.
"""
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import nnls

from pointhmr_mm.utils.constants import NUM_SMPL_JOINTS
from pointhmr_mm.utils.keypoints import SMPL24_PARENTS

# Candidates of a joint: vertices mostly skinned to it, its parent or its
# children, at most this many (evenly spread), so the solve stays small.
CANDIDATE_WEIGHT = 0.5
MAX_CANDIDATES = 400
RIDGE = 1e-3  # m^2; spreads each row over more vertices (costs < 0.3 mm)
SUM_WEIGHT = 10.  # weight of the sum-to-one row
# Weight of the template rows against the sampled shapes: the template
# (betas = 0) pivots are met within about a millimetre, the rest of the
# shape space on average.
TEMPLATE_WEIGHT = 10.
# Anny's COCO-17 keypoints, in COCO's order (its file adds feet points).
COCO17_LABELS = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
                 'left_shoulder', 'right_shoulder', 'left_elbow',
                 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip',
                 'right_hip', 'left_knee', 'right_knee', 'left_ankle',
                 'right_ankle')


def fit_convex_row(vertices: np.ndarray, targets: np.ndarray,
                   candidates: np.ndarray,
                   row_weights: np.ndarray) -> np.ndarray:
    """Convex weights over ``candidates`` whose weighted mean follows
    ``targets`` across shapes (least squares, non-negative, sum one).

    Args:
        vertices: (S, N, 3) meshes.
        targets: (S, 3) the point to reproduce on each mesh.
        candidates: (M,) vertex indices allowed a weight.
        row_weights: (S,) importance of each shape.

    Returns:
        np.ndarray: (N,) the row, zero outside ``candidates``.
    """
    scale = np.repeat(row_weights, 3)[:, None]
    # (S, M, 3) -> (3S, M): one equation per shape and coordinate
    system = vertices[:, candidates].transpose(0, 2, 1).reshape(
        -1, len(candidates)) * scale
    system = np.vstack([system, np.full(len(candidates), SUM_WEIGHT),
                        np.sqrt(RIDGE) * np.eye(len(candidates))])
    rhs = np.concatenate([targets.reshape(-1) * scale[:, 0], [SUM_WEIGHT],
                          np.zeros(len(candidates))])
    weights = nnls(system, rhs, maxiter=50 * len(candidates))[0]
    row = np.zeros(vertices.shape[1])
    row[candidates] = weights / weights.sum()
    return row


def joint_candidates(weights: np.ndarray, joint: int) -> np.ndarray:
    """(M,) vertices mostly skinned to ``joint``'s neighbourhood in the
    tree (itself, its parent, its children)."""
    near = [joint] + [c for c, p in enumerate(SMPL24_PARENTS) if p == joint]
    if SMPL24_PARENTS[joint] >= 0:
        near.append(SMPL24_PARENTS[joint])
    idx = np.flatnonzero(weights[:, near].sum(1) > CANDIDATE_WEIGHT)
    if len(idx) > MAX_CANDIDATES:
        idx = idx[np.linspace(0, len(idx) - 1, MAX_CANDIDATES).astype(int)]
    return idx


def kinematic_regressor(vertices: np.ndarray, pivots: np.ndarray,
                        weights: np.ndarray,
                        num_templates: int) -> np.ndarray:
    """(24, N) convex regressor of the 24 pivots.

    Args:
        vertices: (S, N, 3) meshes, the ``num_templates`` templates first.
        pivots: (S, 24, 3) Anny's joint pivots on them.
        weights: (N, 24) skinning weights (pick the candidates).
        num_templates: How many leading shapes are templates.
    """
    row_weights = np.ones(len(vertices))
    row_weights[:num_templates] = TEMPLATE_WEIGHT
    return np.stack([
        fit_convex_row(vertices, pivots[:, j], joint_candidates(weights, j),
                       row_weights) for j in range(NUM_SMPL_JOINTS)])


# H36M-17 joints as means of SMPL joints (H36M index -> SMPL indices); the
# spine (7) lies between SMPL's spine1 and spine3, the head top (10) is
# taken from the mesh instead.
H36M_FROM_SMPL = {0: [0], 1: [2], 2: [5], 3: [8], 4: [1], 5: [4], 6: [7],
                  7: [3, 6], 8: [12], 9: [15], 11: [16], 12: [18], 13: [20],
                  14: [17], 15: [19], 16: [21]}
H36M_HEAD_TOP = 10
HEAD_TOP_VERTICES = 5  # the highest template vertices average to the top


def h36m_regressor(kinematic: np.ndarray, template: np.ndarray) -> np.ndarray:
    """(17, N) H36M-order regressor from the (24, N) SMPL joint rows and
    the (N, 3) y-up template; convex when the joint rows are."""
    h36m = np.zeros((17, len(template)))
    for out, src in H36M_FROM_SMPL.items():
        h36m[out] = kinematic[src].mean(0)
    top = np.argsort(-template[:, 1])[:HEAD_TOP_VERTICES]
    h36m[H36M_HEAD_TOP, top] = 1. / len(top)
    return h36m


def transfer_regressor(rows: np.ndarray,
                       upsampling: sp.spmatrix) -> np.ndarray:
    """Move (J, N_full) rows onto a decimated mesh.

    Each full vertex lies (nearly) on the decimated surface at barycentric
    weights ``upsampling`` (N_full, n); composing the two keeps the rows
    convex.
    """
    # sparse (n, N_full) @ dense (N_full, J) -> dense (n, J)
    moved = np.clip(np.asarray(upsampling.T @ rows.T).T, 0., None)
    return moved / moved.sum(1, keepdims=True)  # round-off of the weights


def anny_coco_rows(model, labels: Sequence[str] = COCO17_LABELS
                   ) -> np.ndarray:
    """(17, V) Anny's COCO regressor on the model's own vertices.

    Anny stores the weights on its 19,158-vertex base mesh; the eye points
    put about 70% of theirs on the eyeballs, which a topology without eyes
    lacks, so each row is renormalised over the vertices the model keeps.
    """
    from .source import require_anny
    path = Path(require_anny().paths.get_anny_root_dir()) / 'data' / \
        'keypoints' / 'coco.pth'
    table = torch.load(path, weights_only=True, map_location='cpu')
    keep = model.base_mesh_vertex_indices.cpu()
    rows = []
    for label in labels:
        if label not in table:
            raise KeyError(f"{path}: no keypoint '{label}'")
        row = table[label][keep].to(torch.float64).numpy()
        if row.min() < 0 or row.sum() <= 0:
            raise ValueError(f"{path}: keypoint '{label}' has negative "
                             'weights or none on this topology')
        rows.append(row / row.sum())
    return np.stack(rows)
