"""Synthetic training data: a body model in random plausible poses and
shapes, seen from random distances over procedural backgrounds under
random light, written as JPEGs plus one HumanData ``.npz`` per split.

Frames: the body model is y-up and faces +z; the camera frame is x right,
y down, z forward, so every body is first turned by 180 degrees about x
(it then faces the camera). Labels: LSP-14 keypoints (from the model's
H36M regressor, as the evaluation takes them) in pixels and in metres in
the camera frame, SMPL pose/betas/transl that reproduce the drawn mesh,
the projected mesh's box and the gender of the model used.
"""
import logging
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import cv2
import numpy as np
import roma
import torch
from mmengine.logging import print_log
from tqdm import tqdm

from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.models.body_models.smpl import find_body_model_file
from pointhmr_mm.utils.keypoints import H36M_TO_J14
from pointhmr_mm.utils.safe_pickle import load_npz
from pointhmr_mm.visualization.camera import perspective_to_screen
from pointhmr_mm.visualization.renderer import MeshRenderer
from .conventions import HUMAN_DATA_NUM_KEYPOINTS, lsp14_human_data_slots

PathLike = Union[str, Path]
FOCAL_PER_SIDE = 1.4  # focal length over the image side (~40 deg FOV)
DEPTH_RANGE = (2.8, 5.0)  # metres from the camera to the pelvis
CENTRE_JITTER = 0.1  # of the image side, for the pelvis's projection
FIT_MARGIN = 0.02  # of the image side kept free around the body
FIT_GROWTH = 1.15  # depth factor per try while the body does not fit
MAX_FIT_TRIES = 8
JPEG_QUALITY = 92
SPLIT_SEED_OFFSET = dict(train=0, val=1)
GENDER_CODES = dict(neutral='n', male='m', female='f')  # MMHuman3D's codes

# Pose limits, radians, on the axis-angle components of each SMPL joint
# (body frame: x left, y up, z forward). For the hinges (knees, elbows)
# one component is the bend, so the limit is exact; for ball joints it
# bounds each direction of the swing, which keeps poses plausible.
SMALL = ((-0.15, 0.15), ) * 3
JOINT_LIMITS = {
    1: ((-1.5, 0.4), (-0.4, 0.4), (-0.2, 0.7)),  # left hip: +z abducts
    2: ((-1.5, 0.4), (-0.4, 0.4), (-0.7, 0.2)),  # right hip
    3: ((-0.2, 0.5), (-0.3, 0.3), (-0.2, 0.2)),  # spine: +x bends forward
    4: ((0., 2.0), (0., 0.), (0., 0.)),  # knees bend backwards only
    5: ((0., 2.0), (0., 0.), (0., 0.)),
    6: ((-0.1, 0.3), (-0.2, 0.2), (-0.15, 0.15)),
    7: ((-0.4, 0.5), (-0.2, 0.2), (-0.2, 0.2)),  # ankles
    8: ((-0.4, 0.5), (-0.2, 0.2), (-0.2, 0.2)),
    9: ((-0.1, 0.3), (-0.2, 0.2), (-0.15, 0.15)),
    12: ((-0.3, 0.4), (-0.4, 0.4), (-0.2, 0.2)),  # neck
    15: ((-0.3, 0.4), (-0.5, 0.5), (-0.2, 0.2)),  # head
    16: ((-0.6, 0.6), (-1.0, 0.6), (-1.4, 0.4)),  # left shoulder: -z lowers
    17: ((-0.6, 0.6), (-0.6, 1.0), (-0.4, 1.4)),  # right shoulder
    18: ((0., 0.), (-2.3, 0.), (0., 0.)),  # left elbow bends with -y
    19: ((0., 0.), (0., 2.3), (0., 0.)),  # right elbow with +y
    20: ((-0.5, 0.5), (-0.3, 0.3), (-0.6, 0.6)),  # wrists
    21: ((-0.5, 0.5), (-0.3, 0.3), (-0.6, 0.6)),
}
NUM_SMPL_JOINTS = 24
TILT_STD, MAX_TILT = 0.1, 0.3  # radians: mostly upright
BETA_CLIP = 2.  # shape stays within 2 standard deviations
SHAPE_COMPONENTS = 10
AMBIENT_RANGE, DIFFUSE_RANGE = (0.15, 0.5), (0.4, 0.9)
# How many shapes and lines clutter a background, inclusive range. Thin
# lines and limb-sized bars are hard distractors: a small network trained
# from scratch on a few hundred steps learns much faster with fewer (the
# quick start uses (0, 2)).
BACKGROUND_SHAPES = (2, 8)


def random_pose(rng: np.random.Generator,
                max_heading_deg: float = 180.) -> np.ndarray:
    """(72,) SMPL axis-angle: each joint within :data:`JOINT_LIMITS`
    (others within :data:`SMALL`); the root turned to the camera frame,
    upright up to a small tilt, heading within +-``max_heading_deg`` of
    facing the camera."""
    pose = np.zeros((NUM_SMPL_JOINTS, 3))
    for joint in range(1, NUM_SMPL_JOINTS):
        lo, hi = np.asarray(JOINT_LIMITS.get(joint, SMALL)).T
        # centred on the rest pose (or the nearest limit), a quarter of the
        # range wide: relaxed poses are common, extreme ones rare
        centre = np.clip(0., lo, hi)
        pose[joint] = np.clip(rng.normal(centre, (hi - lo) / 4), lo, hi)
    tilt = np.clip(rng.normal(0., TILT_STD, 2), -MAX_TILT, MAX_TILT)
    heading = roma.rotvec_to_rotmat(torch.tensor(
        [tilt[0], np.deg2rad(max_heading_deg) * rng.uniform(-1, 1), tilt[1]],
        dtype=torch.float64))
    to_camera = roma.rotvec_to_rotmat(torch.tensor([np.pi, 0., 0.],
                                                   dtype=torch.float64))
    pose[0] = roma.rotmat_to_rotvec(to_camera @ heading).numpy()
    return pose.reshape(-1).astype(np.float32)


def random_betas(rng: np.random.Generator) -> np.ndarray:
    """(10,) shape coefficients ~ N(0, 1), clipped to +-BETA_CLIP."""
    return np.clip(rng.normal(0., 1., SHAPE_COMPONENTS), -BETA_CLIP,
                   BETA_CLIP).astype(np.float32)


def random_background(rng: np.random.Generator, size: int,
                      shapes: Sequence[int] = BACKGROUND_SHAPES
                      ) -> np.ndarray:
    """(size, size, 3) BGR uint8: a two-colour gradient in a random
    direction, ``shapes[0]`` to ``shapes[1]`` filled shapes and lines,
    sometimes blurred, plus sensor-like noise."""
    c0, c1 = rng.uniform(0, 255, (2, 1, 1, 3))
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    t = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None]
    t = (t - t.min()) / max(np.ptp(t), 1e-6)
    img = np.ascontiguousarray((c0 * (1 - t) + c1 * t).astype(np.uint8))
    for _ in range(rng.integers(shapes[0], shapes[1] + 1)):
        colour = tuple(int(c) for c in rng.uniform(0, 255, 3))
        p, q = (tuple(int(v) for v in rng.integers(0, size, 2))
                for _ in range(2))
        kind = rng.integers(3)
        if kind == 0:
            cv2.rectangle(img, p, q, colour, -1)
        elif kind == 1:
            cv2.circle(img, p, int(rng.integers(2, max(3, size // 4))),
                       colour, -1)
        else:
            cv2.line(img, p, q, colour, int(rng.integers(1, 6)))
    if rng.random() < 0.3:  # out-of-focus backgrounds
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 3.))
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    noisy = img + noise * np.float32(rng.uniform(1, 10))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def random_appearance(rng: np.random.Generator) -> dict:
    """Body colour and light: ambient and diffuse intensities, a
    direction from the camera's side of the body and a tint."""
    light = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1),
                      rng.uniform(0.3, 1.)])
    return dict(ambient=rng.uniform(*AMBIENT_RANGE),
                diffuse=rng.uniform(*DIFFUSE_RANGE),
                color=tuple(rng.uniform(0.25, 1., 3)),
                light_dir=tuple(light),
                light_color=tuple(rng.uniform(0.6, 1., 3)))


def vertex_colours(template: np.ndarray, rng: np.random.Generator
                   ) -> np.ndarray:
    """(N, 3) RGB: a random base colour, the body's left side tinted red
    and its right side blue, the front lighter than the back. A plain
    mannequin is front/back and left/right symmetric; real people are not,
    and without such cues the heading cannot be learned."""
    base = rng.uniform(0.35, 0.85, 3)
    side = np.clip(template[:, 0] / 0.1, -1., 1.)[:, None]  # + is left
    tint = np.where(side > 0, [1., -0.5, -0.5], [-0.5, -0.5, 1.])
    front = np.where(template[:, 2:] > 0, 1.15, 0.8)
    return np.clip((base + 0.5 * np.abs(side) * tint) * front, 0., 1.)


def scene_settings(max_heading_deg: float = 180.,
                   background_shapes: Sequence[int] = BACKGROUND_SHAPES
                   ) -> dict:
    """Checked, JSON-like scene settings (see :class:`SyntheticRenderer`).
    """
    shapes = [int(n) for n in background_shapes]
    if len(shapes) != 2 or not 0 <= shapes[0] <= shapes[1]:
        raise ValueError('background_shapes must be (min, max) with '
                         f'0 <= min <= max, got {background_shapes!r}')
    if not 0 <= max_heading_deg <= 180:
        raise ValueError('max_heading_deg must be in [0, 180], got '
                         f'{max_heading_deg!r}')
    return dict(max_heading_deg=float(max_heading_deg),
                background_shapes=shapes)


class SyntheticRenderer:
    """Poses, renders and labels a body model (all genders it has).

    Args:
        body_model_dir: Folder with ``smpl/SMPL_{NEUTRAL,MALE,FEMALE}.pkl``
            (at least the neutral one) and ``J_regressor_h36m.npy``.
        image_size: Side of the square images, pixels.
        max_heading_deg: People turn at most this far from facing the
            camera.
        background_shapes: (min, max) shapes and lines drawn on each
            background.

    The scene settings (``max_heading_deg``, ``background_shapes``) are
    what :func:`write_split` and the ``ensure_*`` helpers forward as
    ``**scene``.
    """

    def __init__(self, body_model_dir: PathLike, image_size: int,
                 max_heading_deg: float = 180.,
                 background_shapes: Sequence[int] = BACKGROUND_SHAPES):
        body_model_dir = Path(body_model_dir)
        if image_size < 16:
            raise ValueError(f'image_size must be >= 16, got {image_size}')
        self.scene = scene_settings(max_heading_deg, background_shapes)
        regressor = dict(h36m=str(body_model_dir / 'J_regressor_h36m.npy'))
        self.bodies = {}
        for gender in ('neutral', 'male', 'female'):
            try:
                find_body_model_file(body_model_dir, gender)
            except FileNotFoundError:
                if gender == 'neutral':
                    raise
                continue  # this folder lacks that gender: not drawn
            self.bodies[gender] = SMPL(str(body_model_dir), gender=gender,
                                       joint_regressors=regressor)
        self.templates = {g: b.v_template.numpy()
                          for g, b in self.bodies.items()}
        self.size = image_size
        self.focal = FOCAL_PER_SIDE * image_size

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) camera-frame metres -> (N, 2) pixels."""
        centre = (self.size / 2, ) * 2
        return perspective_to_screen(points, (self.focal, ) * 2,
                                     centre)[:, :2]

    def place(self, verts: np.ndarray, pelvis: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        """(3,) translation putting the body at a random depth, near the
        image centre, moved back until the whole mesh is in view."""
        depth = rng.uniform(*DEPTH_RANGE)
        shift = rng.uniform(-CENTRE_JITTER, CENTRE_JITTER, 2) * self.size
        margin = FIT_MARGIN * self.size
        for _ in range(MAX_FIT_TRIES):
            target = np.append(shift * depth / self.focal, depth)
            transl = target - pelvis
            xy = self.project(verts + transl)
            if xy.min() >= margin and xy.max() <= self.size - margin:
                break
            depth *= FIT_GROWTH
        return transl

    def sample(self, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        """One rendered image and its labels (LSP-14, camera frame)."""
        gender = list(self.bodies)[rng.integers(len(self.bodies))]
        pose = random_pose(rng, self.scene['max_heading_deg'])
        betas = random_betas(rng)
        with torch.no_grad():
            out = self.bodies[gender](betas=torch.from_numpy(betas)[None],
                                      pose=torch.from_numpy(pose)[None])
        verts = out['vertices'][0].double().numpy()
        h36m = out['h36m'][0].double().numpy()
        transl = self.place(verts, h36m[0], rng)
        verts_cam, joints_cam = verts + transl, h36m[list(H36M_TO_J14)] + \
            transl
        screen = np.concatenate(
            [self.project(verts_cam), verts_cam[:, 2:]], axis=1)
        look = random_appearance(rng)
        renderer = MeshRenderer(self.size, ambient=look.pop('ambient'),
                                diffuse=look.pop('diffuse'))
        drawn = renderer.render(
            screen, self.bodies[gender].faces.numpy(),
            image=random_background(rng, self.size,
                                    self.scene['background_shapes']),
            normal_vertices=verts_cam,
            vertex_colors=vertex_colours(self.templates[gender], rng),
            **look)
        lo = np.clip(screen[:, :2].min(0), 0, self.size)
        hi = np.clip(screen[:, :2].max(0), 0, self.size)
        ones = np.ones((len(joints_cam), 1))
        return dict(
            image=drawn['image'], gender=GENDER_CODES[gender],
            bbox_xywh=np.array([*lo, *(hi - lo), 1.], np.float32),
            keypoints2d=np.hstack([self.project(joints_cam), ones]),
            keypoints3d=np.hstack([joints_cam, ones]),
            pose=pose, betas=betas, transl=transl.astype(np.float32))


def _human_data(records: List[dict], settings: dict) -> dict:
    """HumanData arrays of the records, keypoints stored compressed (only
    the 14 LSP slots, in convention order, with the 190-long masks), and
    the generator ``settings`` in ``meta``."""
    slots = np.asarray(lsp14_human_data_slots())
    mask = np.zeros(HUMAN_DATA_NUM_KEYPOINTS, np.uint8)
    mask[slots] = 1
    order = np.argsort(slots)  # compressed joints follow the convention

    def stack(key, dtype=np.float32):
        return np.stack([r[key] for r in records]).astype(dtype)

    pose = stack('pose')
    return dict(
        __key_strict__=False, __temporal_len__=len(records),
        __keypoints_compressed__=True,
        image_path=np.array([r['image_path'] for r in records]),
        bbox_xywh=stack('bbox_xywh'),
        keypoints2d=stack('keypoints2d')[:, order], keypoints2d_mask=mask,
        keypoints3d=stack('keypoints3d')[:, order], keypoints3d_mask=mask,
        smpl=dict(global_orient=pose[:, :3],
                  body_pose=pose[:, 3:].reshape(-1, 23, 3),
                  betas=stack('betas'), transl=stack('transl')),
        meta=dict(gender=[r['gender'] for r in records],
                  generator=settings),
        config='pointhmr_synthetic')


def _render_one(maker: SyntheticRenderer, out_dir: Path, rel_path: str,
                rng: np.random.Generator) -> dict:
    """Render a sample, write its JPEG and return its labels."""
    rec = maker.sample(rng)
    if not cv2.imwrite(str(out_dir / rel_path), rec.pop('image'),
                       [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f'could not write {out_dir / rel_path}')
    rec['image_path'] = rel_path
    return rec


def split_exists(out_dir: PathLike, split: str) -> bool:
    """Whether ``split``'s annotation file is in ``out_dir``."""
    return (Path(out_dir) / f'{split}.npz').is_file()


def write_split(out_dir: PathLike, split: str, num: int,
                body_model_dir: PathLike, image_size: int = 256,
                seed: int = 0, overwrite: bool = False, **scene) -> Path:
    """Render ``num`` samples to ``out_dir/images/<split>/000000.jpg``, ...
    and write ``out_dir/<split>.npz`` (HumanData). Sample ``i`` depends
    only on ``(seed, i)``. ``scene``: :class:`SyntheticRenderer`'s scene
    settings. All settings are kept in the npz's ``meta['generator']``.

    Raises:
        FileExistsError: the split exists and ``overwrite`` is False.
    """
    out_dir = Path(out_dir)
    ann, img_dir = out_dir / f'{split}.npz', out_dir / 'images' / split
    if num <= 0:
        raise ValueError(f'num must be positive, got {num} ({split})')
    old = sorted(img_dir.glob('[0-9][0-9][0-9][0-9][0-9][0-9].jpg')) \
        if img_dir.is_dir() else []
    if (ann.exists() or old) and not overwrite:
        raise FileExistsError(f'{ann if ann.exists() else img_dir} exists; '
                              'pass --overwrite (overwrite=True) to replace '
                              f'the {split} split')
    for path in old:  # only the generator's own file names
        path.unlink()
    img_dir.mkdir(parents=True, exist_ok=True)
    maker = SyntheticRenderer(body_model_dir, image_size, **scene)
    threads = torch.get_num_threads()
    # one small mesh per call: thread hand-offs cost more than the maths
    # (measured 4x slower with 2 threads on a loaded 2-core machine)
    torch.set_num_threads(1)
    try:
        records = [
            _render_one(maker, out_dir, f'images/{split}/{i:06d}.jpg',
                        np.random.default_rng([seed, i]))
            for i in tqdm(range(num), desc=f'rendering {split}', unit='img')
        ]
    finally:
        torch.set_num_threads(threads)
    partial = ann.with_name(ann.name + '.partial')
    with open(partial, 'wb') as f:  # a crash leaves no half-written npz
        np.savez_compressed(f, **_human_data(
            records, dict(num=num, image_size=image_size, seed=seed,
                          **maker.scene)))
    os.replace(partial, ann)
    return ann


def stored_settings(ann: PathLike) -> Optional[dict]:
    """The generator settings a split was written with (None for files
    from elsewhere or from before they were recorded)."""
    meta = load_npz(ann).get('meta')
    if isinstance(meta, np.ndarray) and meta.dtype == object:
        meta = meta.item()
    return meta.get('generator') if isinstance(meta, dict) else None


def ensure_synthetic_dataset(out_dir: PathLike, body_model_dir: PathLike,
                             num_train: int, num_val: int, seed: int = 0,
                             image_size: int = 256, **scene
                             ) -> Dict[str, Path]:
    """Generate the train and val splits that are absent; keep the others
    (never replaced: a kept split made with other settings only gets a
    warning). ``scene``: :class:`SyntheticRenderer`'s scene settings.

    Returns:
        dict: split -> annotation file.
    """
    paths = {}
    for split, num in (('train', num_train), ('val', num_val)):
        ann = Path(out_dir) / f'{split}.npz'
        split_seed = seed + SPLIT_SEED_OFFSET[split]
        if split_exists(out_dir, split):
            wanted = dict(num=num, image_size=image_size, seed=split_seed,
                          **scene_settings(**scene))
            stored = stored_settings(ann)
            if stored == wanted:
                print_log(f'{ann} exists: kept (delete it to regenerate)',
                          logger='current')
            else:
                print_log(f'{ann} exists but was not made with {wanted} '
                          f'(it records {stored}); kept as it is: delete '
                          'its folder to regenerate',
                          logger='current', level=logging.WARNING)
        else:
            write_split(out_dir, split, num, body_model_dir, image_size,
                        split_seed, overwrite=True, **scene)
        paths[split] = ann
    return paths


def ensure_quickstart_assets(root: PathLike, mannequin_vertices: int,
                             mesh_levels, num_train: int, num_val: int,
                             image_size: int = 256, seed: int = 0,
                             **scene) -> None:
    """The quick start's mannequin, its mesh hierarchy and the synthetic
    splits under ``root``, each made only if absent. ``scene``:
    :class:`SyntheticRenderer`'s scene settings."""
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
                             num_val, seed, image_size, **scene)
