"""The renderer that composes the generator: a body (:mod:`.body`) in a
random pose (:mod:`.pose`), dressed (:mod:`.appearance`), put before a
camera (:mod:`.camera`) over a background under a light (:mod:`.scene`).

Frames: the body model is y-up and faces +z; the camera frame is x right,
y down, z forward, so every body is first turned by 180 degrees about x
(it then faces the camera). Labels: LSP-14 keypoints (from the model's
H36M regressor, as the evaluation takes them) in pixels and in metres in
the camera frame, SMPL pose/betas/transl that reproduce the drawn mesh,
the projected mesh's box and the gender of the model used.
"""
from pathlib import Path
from typing import Dict, Sequence, Union

import numpy as np
import torch

from pointhmr_mm.utils.keypoints import H36M_TO_J14
from pointhmr_mm.visualization.renderer import MeshRenderer
from .appearance import body_regions, random_outfit, vertex_colours
from .body import (GENDER_CODES, load_bodies, load_body_parts,
                   random_betas, random_gender)
from .camera import SyntheticCamera
from .pose import measure_rest_offsets, random_pose
from .scene import (BACKGROUND_SHAPES, random_background, random_lighting,
                    scene_settings)

PathLike = Union[str, Path]
MIN_IMAGE_SIZE = 16


class SyntheticRenderer:
    """Poses, dresses, renders and labels a body model (all genders it
    has).

    Args:
        body_model_dir: Folder with ``smpl/SMPL_{NEUTRAL,MALE,FEMALE}``
            (at least the neutral one), ``J_regressor_h36m.npy`` and
            ``body_parts.npz``, e.g. the one ``write_embedded_body``
            writes.
        image_size: Side of the square images, pixels.
        max_heading_deg: People turn at most this far from facing the
            camera.
        background_shapes: (min, max) shapes and lines drawn on each
            background.

    The scene settings (``max_heading_deg``, ``background_shapes``) are
    what :func:`.writer.write_split` and the ``ensure_*`` helpers forward
    as ``**scene``.
    """

    def __init__(self, body_model_dir: PathLike, image_size: int,
                 max_heading_deg: float = 180.,
                 background_shapes: Sequence[int] = BACKGROUND_SHAPES):
        if image_size < MIN_IMAGE_SIZE:
            raise ValueError(f'image_size must be >= {MIN_IMAGE_SIZE}, got '
                             f'{image_size}')
        self.scene = scene_settings(max_heading_deg, background_shapes)
        self.bodies = load_bodies(body_model_dir)
        num_vertices = len(self.bodies['neutral'].template)
        parts = load_body_parts(body_model_dir, num_vertices)
        self.regions = {g: body_regions(b.template, b.rest_joints, parts)
                        for g, b in self.bodies.items()}
        self.rest_offsets = {g: measure_rest_offsets(b.rest_joints)
                             for g, b in self.bodies.items()}
        self.camera = SyntheticCamera(image_size)
        self.size = image_size

    def pose_body(self, gender: str, pose: np.ndarray, betas: np.ndarray
                  ) -> Dict[str, np.ndarray]:
        """(N, 3) vertices and (17, 3) H36M joints of one body, float64,
        before translation."""
        with torch.no_grad():
            out = self.bodies[gender].model(
                betas=torch.from_numpy(betas)[None],
                pose=torch.from_numpy(pose)[None])
        return dict(vertices=out['vertices'][0].double().numpy(),
                    h36m=out['h36m'][0].double().numpy())

    def sample(self, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        """One rendered image and its labels (LSP-14, camera frame)."""
        gender = random_gender(rng, self.bodies)
        pose = random_pose(rng, self.rest_offsets[gender],
                           self.scene['max_heading_deg'])
        betas = random_betas(rng)
        posed = self.pose_body(gender, pose, betas)
        transl = self.camera.place(posed['vertices'], posed['h36m'][0], rng)
        verts_cam = posed['vertices'] + transl
        joints_cam = posed['h36m'][list(H36M_TO_J14)] + transl
        screen = self.camera.to_screen(verts_cam)
        colours = vertex_colours(self.regions[gender], random_outfit(rng),
                                 rng)
        light = random_lighting(rng)
        renderer = MeshRenderer(self.size, ambient=light.pop('ambient'),
                                diffuse=light.pop('diffuse'))
        drawn = renderer.render(
            screen, self.bodies[gender].faces,
            image=random_background(rng, self.size,
                                    self.scene['background_shapes']),
            normal_vertices=verts_cam, vertex_colors=colours, **light)
        lo = np.clip(screen[:, :2].min(0), 0, self.size)
        hi = np.clip(screen[:, :2].max(0), 0, self.size)
        ones = np.ones((len(joints_cam), 1))
        return dict(
            image=drawn['image'], gender=GENDER_CODES[gender],
            bbox_xywh=np.array([*lo, *(hi - lo), 1.], np.float32),
            keypoints2d=np.hstack([self.camera.project(joints_cam), ones]),
            keypoints3d=np.hstack([joints_cam, ones]),
            pose=pose, betas=betas, transl=transl.astype(np.float32))
