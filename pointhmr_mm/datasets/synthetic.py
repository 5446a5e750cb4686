"""Synthetic training data: a body model rendered in random plausible
poses, shapes, distances, backgrounds and lighting, written as images plus
a HumanData ``.npz`` per split.

Frames: the body model is y-up; the camera frame is x right, y down,
z forward, so every body is first turned by 180 degrees about x.
"""
from pathlib import Path
from typing import Dict, Optional, Union

import cv2
import numpy as np
import roma
import torch
from tqdm import tqdm

from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.utils.keypoints import H36M_TO_J14
from pointhmr_mm.visualization import MeshRenderer, perspective_to_screen
from .conventions import HUMAN_DATA_NUM_KEYPOINTS, lsp14_to_human_data

FOCAL_PER_PIXEL = 1.6  # focal length in units of the image side
DISTANCE_RANGE = (3.0, 5.0)  # metres
POSE_STD = 0.15  # radians, every body joint
KNEES, ELBOWS, SHOULDERS = (4, 5), (18, 19), (16, 17)
BBOX_CONFIDENCE = 1.


def random_pose(rng: np.random.Generator) -> np.ndarray:
    """(72,) axis-angle: upright, any heading, natural limb bends."""
    body = rng.normal(0., POSE_STD, size=(24, 3))
    for knee in KNEES:  # knees only bend backwards
        body[knee] = [abs(rng.normal(0., 0.7)), 0., 0.]
    for elbow, sign in zip(ELBOWS, (-1., 1.)):
        body[elbow] = [0., sign * abs(rng.normal(0., 0.8)), 0.]
    for shoulder, sign in zip(SHOULDERS, (-1., 1.)):  # arms down a bit
        body[shoulder, 2] += sign * rng.uniform(0.2, 1.2)
    upright = roma.rotvec_to_rotmat(torch.tensor([np.pi, 0., 0.]))
    turn = roma.rotvec_to_rotmat(torch.tensor(
        [rng.normal(0, 0.1), rng.uniform(-np.pi, np.pi), rng.normal(0, 0.1)]))
    body[0] = roma.rotmat_to_rotvec(upright @ turn).numpy()
    return body.reshape(72).astype(np.float32)


def random_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) BGR uint8: gradient, shapes and noise."""
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = np.linspace(0, 1, size)[:, None, None]
    img = (c0 * (1 - t) + c1 * t) * np.ones((1, size, 1))
    if rng.random() < 0.5:
        img = img.transpose(1, 0, 2)
    img = np.ascontiguousarray(img).astype(np.uint8)
    for _ in range(rng.integers(2, 8)):
        colour = tuple(int(c) for c in rng.uniform(0, 255, 3))
        p = tuple(int(v) for v in rng.integers(0, size, 2))
        if rng.random() < 0.5:
            q = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.rectangle(img, p, q, colour, -1)
        else:
            cv2.circle(img, p, int(rng.integers(5, size // 4)), colour, -1)
    noise = rng.normal(0, rng.uniform(2, 12), img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


class SyntheticRenderer:
    """Poses, renders and labels one body model."""

    def __init__(self, body_model_dir: Union[str, Path], image_size: int):
        body_model_dir = Path(body_model_dir)
        self.body = SMPL(str(body_model_dir), joint_regressors=dict(
            h36m=str(body_model_dir / 'J_regressor_h36m.npy')))
        self.faces = self.body.faces.numpy()
        self.size = image_size
        self.renderer = MeshRenderer(image_size)

    def sample(self, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        pose = random_pose(rng)
        betas = np.clip(rng.normal(0., 1., 10), -2., 2.).astype(np.float32)
        with torch.no_grad():
            out = self.body(betas=torch.from_numpy(betas)[None],
                            pose=torch.from_numpy(pose)[None])
        verts = out['vertices'][0].numpy()
        joints = out['h36m'][0].numpy()[list(H36M_TO_J14)]
        pelvis = out['h36m'][0, 0].numpy()
        focal = FOCAL_PER_PIXEL * self.size
        transl = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.2, 0.2),
                           rng.uniform(*DISTANCE_RANGE)]) - pelvis
        screen = perspective_to_screen(verts + transl, (focal, focal),
                                       (self.size / 2, ) * 2)
        light = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), 1.])
        self.renderer.ambient = rng.uniform(0.2, 0.5)
        self.renderer.diffuse = rng.uniform(0.4, 0.8)
        drawn = self.renderer.render(
            screen, self.faces, image=random_background(rng, self.size),
            color=tuple(rng.uniform(0.3, 1.0, 3)), light_dir=light)
        joints_cam = joints + transl
        joints_2d = perspective_to_screen(joints_cam, (focal, focal),
                                          (self.size / 2, ) * 2)[:, :2]
        lo = np.clip(screen[:, :2].min(0), 0, self.size)
        hi = np.clip(screen[:, :2].max(0), 0, self.size)
        return dict(
            image=drawn['image'],
            bbox_xywh=np.array([*lo, *(hi - lo), BBOX_CONFIDENCE],
                               np.float32),
            keypoints2d=np.concatenate([joints_2d, np.ones((14, 1))],
                                       1).astype(np.float32),
            keypoints3d=np.concatenate([joints_cam, np.ones((14, 1))],
                                       1).astype(np.float32),
            pose=pose, betas=betas, transl=transl.astype(np.float32))


def write_split(out_dir: Union[str, Path], split: str, num: int,
                body_model_dir: Union[str, Path], image_size: int = 256,
                seed: int = 0, overwrite: bool = False) -> Path:
    """Render ``num`` samples into ``out_dir/images/split`` and write
    ``out_dir/split.npz`` in HumanData's layout."""
    out_dir = Path(out_dir)
    ann = out_dir / f'{split}.npz'
    if ann.exists() and not overwrite:
        raise FileExistsError(f'{ann} exists; pass --overwrite')
    (out_dir / 'images' / split).mkdir(parents=True, exist_ok=True)
    maker = SyntheticRenderer(body_model_dir, image_size)
    rng = np.random.default_rng(seed)
    records = []
    for i in tqdm(range(num), desc=f'rendering {split}'):
        rec = maker.sample(rng)
        rel = f'images/{split}/{i:06d}.jpg'
        cv2.imwrite(str(out_dir / rel), rec.pop('image'))
        rec['image_path'] = rel
        records.append(rec)
    stack = lambda k: np.stack([r[k] for r in records])  # noqa: E731
    mask = np.zeros(HUMAN_DATA_NUM_KEYPOINTS, np.uint8)
    mask[lsp14_to_human_data(np.ones((1, 14, 1)))[0, :, 0] > 0] = 1
    pose = stack('pose')
    np.savez(
        ann, image_path=np.array([r['image_path'] for r in records]),
        bbox_xywh=stack('bbox_xywh'),
        keypoints2d=lsp14_to_human_data(stack('keypoints2d')),
        keypoints2d_mask=mask,
        keypoints3d=lsp14_to_human_data(stack('keypoints3d')),
        keypoints3d_mask=mask,
        smpl=dict(global_orient=pose[:, :3],
                  body_pose=pose[:, 3:].reshape(-1, 23, 3),
                  betas=stack('betas'), transl=stack('transl')),
        meta=dict(gender=['n'] * num), config='pointhmr_synthetic')
    return ann


def ensure_synthetic_dataset(out_dir: Union[str, Path],
                             body_model_dir: Union[str, Path],
                             num_train: int, num_val: int,
                             image_size: int = 256, seed: int = 0) -> None:
    """Generate the train and val splits unless they already exist."""
    for split, num, split_seed in (('train', num_train, seed),
                                   ('val', num_val, seed + 1)):
        if not (Path(out_dir) / f'{split}.npz').exists():
            write_split(out_dir, split, num, body_model_dir, image_size,
                        split_seed)


def ensure_quickstart_assets(root: Union[str, Path], mannequin_vertices: int,
                             mesh_levels, num_train: int, num_val: int,
                             image_size: int = 256, seed: int = 0) -> None:
    """Mannequin, its mesh hierarchy and the synthetic splits under
    ``root``, each made only if absent."""
    from pointhmr_mm.models.body_models.mannequin import make_mannequin_files
    from pointhmr_mm.models.utils import build_mesh_sampler
    root = Path(root)
    body_dir = root / 'body_models'
    if not (body_dir / 'smpl' / 'SMPL_NEUTRAL.pkl').exists():
        make_mannequin_files(body_dir, num_vertices=mannequin_vertices,
                             seed=seed)
    sampler = body_dir / 'mesh_downsampling.npz'
    if not sampler.exists():
        body = SMPL(str(body_dir))
        build_mesh_sampler(body.v_template.numpy(), body.faces.numpy(),
                           mesh_levels).save(str(sampler))
    ensure_synthetic_dataset(root / 'synthetic', body_dir, num_train,
                             num_val, image_size, seed)
