"""Files people open in other programs: ``.obj`` and ``.glb`` meshes, and a
``.bvh`` skeleton animation of fitted SMPL parameters.

Frames. Predictions are in the camera frame (x right, y down, z forward,
metres). glTF and Blender's BVH importer expect y up, so ``.glb`` and
``.bvh`` files turn the camera frame half a turn about x (x right, y up,
z toward the camera) unless ``camera_to_y_up=False``; ``.obj`` files keep
the camera frame unless asked.

BVH layout. The hierarchy is the body model's kinematic tree
(``parents``), joint offsets are its rest-pose joints for the person's
shape, in ``scale`` units per metre. The root has six channels (position,
then rotation), the others three rotation channels; rotations are Euler
angles in degrees in ``channel_order`` (default ZXY: the rotation matrix is
``Rz(z) @ Rx(x) @ Ry(y)``, as the channel list reads), the local rotation of
each joint relative to its parent, as in SMPL. The root's OFFSET is zero
and its position channels are the pelvis joint's position, so readers that
add the root OFFSET and readers that do not agree. Leaves end in an
``End Site`` half as long as their own bone.

Shape shorthand: N vertices, F faces, T frames, J joints (24 for SMPL).
"""
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from scipy.spatial.transform import Rotation

from pointhmr_mm.utils.atomic_io import write_file_atomically

PathLike = Union[str, Path]
# camera frame (y down, z forward) -> y up, z toward the viewer
CAMERA_TO_Y_UP = np.diag([1., -1., -1.])
SMPL_JOINT_NAMES = (
    'pelvis', 'left_hip', 'right_hip', 'spine_1', 'left_knee', 'right_knee',
    'spine_2', 'left_ankle', 'right_ankle', 'spine_3', 'left_foot',
    'right_foot', 'neck', 'left_collar', 'right_collar', 'head',
    'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'left_hand', 'right_hand')
END_SITE_FRACTION = 0.5  # of a leaf's own bone
EULER_ORDERS = ('XYZ', 'XZY', 'YXZ', 'YZX', 'ZXY', 'ZYX')
BVH_DECIMALS = 6


def _check_mesh(vertices, faces) -> Tuple[np.ndarray, np.ndarray]:
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f'vertices must be (N, 3), got {vertices.shape}')
    if faces.ndim != 2 or faces.shape[1] != 3 or not len(faces) or \
            faces.min() < 0 or faces.max() >= len(vertices):
        raise ValueError(f'faces must be (F, 3) indices below '
                         f'{len(vertices)}, got shape {faces.shape}')
    return vertices, faces.astype(np.int64)


def _trimesh(vertices, faces, camera_to_y_up: bool, colors=None):
    import trimesh  # here, not at import: training never needs it
    vertices, faces = _check_mesh(vertices, faces)
    if camera_to_y_up:
        vertices = vertices @ CAMERA_TO_Y_UP.T
    return trimesh.Trimesh(vertices, faces, vertex_colors=colors,
                           process=False)


def _write(path: PathLike, suffix: str, data: bytes) -> Path:
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise ValueError(f'{path}: expected a {suffix} file name')
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomically(path, lambda f: f.write(data))
    return path


def export_obj(path: PathLike, vertices, faces,
               camera_to_y_up: bool = False) -> Path:
    """Write one person's mesh as Wavefront ``.obj``.

    Args:
        path: Output file (``.obj``); replaced atomically.
        vertices: (N, 3) metres.
        faces: (F, 3) vertex indices.
        camera_to_y_up: Turn camera-frame vertices to y up.

    Returns:
        Path: the file written.
    """
    mesh = _trimesh(vertices, faces, camera_to_y_up)
    return _write(path, '.obj', mesh.export(file_type='obj').encode())


def vertex_colors(color, num_vertices: int) -> np.ndarray:
    """(N, 4) uint8 RGBA from one colour or a colour per vertex.

    Args:
        color: (3, ) or (N, 3) RGB, floats in [0, 1] or uint8; (4, ) or
            (N, 4) with alpha.
        num_vertices: N.
    """
    color = np.asarray(color)
    if color.shape[-1:] not in ((3, ), (4, )) or color.ndim > 2 or (
            color.ndim == 2 and len(color) != num_vertices):
        raise ValueError(f'color must be (3, ), (4, ), ({num_vertices}, 3) '
                         f'or ({num_vertices}, 4), got shape {color.shape}')
    if color.dtype != np.uint8:
        if color.min() < 0 or color.max() > 1:
            raise ValueError('float colours must lie in [0, 1]')
        color = np.round(color * 255).astype(np.uint8)
    if color.shape[-1] == 3:
        alpha = np.full(color.shape[:-1] + (1, ), 255, np.uint8)
        color = np.concatenate([color, alpha], -1)
    return np.broadcast_to(color, (num_vertices, 4)).copy()


def export_glb(path: PathLike, vertices, faces, color=(0.65, 0.74, 0.86),
               camera_to_y_up: bool = True) -> Path:
    """Write one person's mesh as binary glTF with vertex colours.

    Args:
        path: Output file (``.glb``); replaced atomically.
        vertices: (N, 3) metres.
        faces: (F, 3) vertex indices.
        color: The overlay colour, see :func:`vertex_colors`.
        camera_to_y_up: Turn camera-frame vertices to glTF's y up.

    Returns:
        Path: the file written.
    """
    vertices = np.asarray(vertices)
    colors = vertex_colors(color, len(vertices))
    mesh = _trimesh(vertices, faces, camera_to_y_up, colors)
    return _write(path, '.glb', mesh.export(file_type='glb'))


def smpl_skeleton(body_model, betas=None) -> Tuple[np.ndarray, np.ndarray]:
    """Rest-pose joints and kinematic tree of a project ``SMPL`` module.

    Args:
        body_model: :class:`pointhmr_mm.models.body_models.SMPL`.
        betas: (B, ) shape of the person, or None for the mean shape.

    Returns:
        tuple: (J, 3) rest joints in metres (model frame, y up) and (J, )
        int64 parents (-1 for the root).
    """
    import torch
    if not hasattr(body_model, 'smpl'):
        raise TypeError(f'body_model must be the project\'s SMPL module, '
                        f'got {type(body_model).__name__}')
    ref = body_model.smpl.v_template
    if betas is not None:
        betas = torch.as_tensor(np.asarray(betas), dtype=ref.dtype,
                                device=ref.device).reshape(1, -1)
    with torch.no_grad():
        joints = body_model(betas=betas)['joints'][0]
    parents = body_model.smpl.parents.cpu().numpy().astype(np.int64)
    return joints.cpu().double().numpy(), parents


def _check_skeleton(rest_joints, parents, names):
    rest = np.asarray(rest_joints, dtype=np.float64)
    parents = np.asarray(parents, dtype=np.int64)
    if rest.ndim != 2 or rest.shape[1] != 3 or not len(rest):
        raise ValueError(f'rest_joints must be (J, 3) with J >= 1, got '
                         f'{rest.shape}')
    if parents.shape != (len(rest), ) or parents[0] != -1 or any(
            not 0 <= p < j for j, p in enumerate(parents[1:], 1)):
        raise ValueError('parents must be (J, ) with -1 for joint 0 and '
                         'every other parent listed before its child, got '
                         f'{parents.tolist()}')
    if names is None:
        names = SMPL_JOINT_NAMES if len(rest) == len(SMPL_JOINT_NAMES) \
            else [f'joint_{j}' for j in range(len(rest))]
    if len(names) != len(rest) or len(set(names)) != len(names) or any(
            not n or any(c.isspace() for c in n) for n in names):
        raise ValueError(f'names must be {len(rest)} distinct names without '
                         f'spaces, got {list(names)}')
    return rest, parents, list(names)


def _hierarchy(rest, parents, names, order, scale) -> Tuple[list, list]:
    """BVH HIERARCHY lines and the joints in their (depth-first) order."""
    children = [[c for c in range(len(parents)) if parents[c] == j]
                for j in range(len(parents))]
    rotations = ' '.join(f'{axis}rotation' for axis in order)
    lines = []

    def fmt(vector):
        return ' '.join(f'{v:.{BVH_DECIMALS}f}' for v in vector * scale)

    def visit(joint, depth):
        pad = '\t' * depth
        offset = np.zeros(3) if joint == 0 else \
            rest[joint] - rest[parents[joint]]
        lines.append(f'{pad}{"ROOT" if joint == 0 else "JOINT"} '
                     f'{names[joint]}')
        lines.extend([f'{pad}{{', f'{pad}\tOFFSET {fmt(offset)}'])
        lines.append(f'{pad}\tCHANNELS 6 Xposition Yposition Zposition '
                     f'{rotations}' if joint == 0 else
                     f'{pad}\tCHANNELS 3 {rotations}')
        for child in children[joint]:
            visit(child, depth + 1)
        if not children[joint]:
            lines.extend([
                f'{pad}\tEnd Site', f'{pad}\t{{',
                f'{pad}\t\tOFFSET {fmt(offset * END_SITE_FRACTION)}',
                f'{pad}\t}}'])
        lines.append(f'{pad}}}')

    visit(0, 0)
    return lines, _depth_first(children)


def _depth_first(children) -> list:
    order, stack = [], [0]
    while stack:
        joint = stack.pop()
        order.append(joint)
        stack.extend(reversed(children[joint]))
    return order


def _check_motion(global_orient, body_pose, transl, num_joints):
    orient = np.asarray(global_orient, dtype=np.float64)
    if orient.ndim != 2 or orient.shape[1] != 3 or not len(orient):
        raise ValueError(f'global_orient must be (T, 3) with T >= 1, got '
                         f'{orient.shape}')
    frames = len(orient)
    pose = np.asarray(body_pose, dtype=np.float64)
    if pose.size != frames * 3 * (num_joints - 1):
        raise ValueError(f'body_pose must be (T, {num_joints - 1}, 3) for '
                         f'T={frames}, got {np.shape(body_pose)}')
    transl = np.zeros((frames, 3)) if transl is None else \
        np.asarray(transl, dtype=np.float64)
    if transl.shape != (frames, 3):
        raise ValueError(f'transl must be ({frames}, 3), got {transl.shape}')
    rotvecs = np.concatenate([orient, pose.reshape(frames, -1)], 1)
    return rotvecs.reshape(frames, num_joints, 3), transl


def export_bvh(path: PathLike, rest_joints, parents, global_orient,
               body_pose, transl=None, fps: float = 30.,
               names: Optional[Sequence[str]] = None,
               channel_order: str = 'ZXY', scale: float = 1.,
               camera_to_y_up: bool = True) -> Path:
    """Write a track's SMPL parameters as a BVH animation.

    Args:
        path: Output file (``.bvh``); replaced atomically.
        rest_joints: (J, 3) rest-pose joints, metres (:func:`smpl_skeleton`).
        parents: (J, ) parent of each joint, -1 for the root (joint 0).
        global_orient: (T, 3) axis-angle of the root, camera frame.
        body_pose: (T, J - 1, 3) axis-angle of the other joints.
        transl: (T, 3) metres, SMPL's translation; None for zeros.
        fps: Frames per second of the video (``Frame Time`` is 1 / fps).
        names: J joint names; SMPL's names for 24 joints by default.
        channel_order: Euler order of the rotation channels, e.g. 'ZXY'.
        scale: File units per metre (100 writes centimetres).
        camera_to_y_up: Turn the camera frame to y up (see the module).

    Returns:
        Path: the file written.
    """
    rest, parents, names = _check_skeleton(rest_joints, parents, names)
    if channel_order not in EULER_ORDERS:
        raise ValueError(f'channel_order must be one of {EULER_ORDERS}, got '
                         f'{channel_order!r}')
    if not fps > 0 or not scale > 0:
        raise ValueError(f'fps and scale must be positive, got fps={fps}, '
                         f'scale={scale}')
    rotvecs, transl = _check_motion(global_orient, body_pose, transl,
                                    len(rest))
    frames = len(rotvecs)
    world = CAMERA_TO_Y_UP if camera_to_y_up else np.eye(3)
    local = Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_matrix() \
        .reshape(frames, len(rest), 3, 3)
    local[:, 0] = world @ local[:, 0]
    # smplx rotates the body about the rest pelvis, then adds transl
    root = (rest[0] + transl) @ world.T
    # uppercase: intrinsic rotations, matrix = R_a(a) @ R_b(b) @ R_c(c)
    euler = np.degrees(Rotation.from_matrix(local.reshape(-1, 3, 3))
                       .as_euler(channel_order)).reshape(frames, -1, 3)
    lines, visit_order = _hierarchy(rest, parents, names, channel_order,
                                    scale)
    motion = np.concatenate([root * scale, euler[:, visit_order].reshape(
        frames, -1)], 1)
    text = '\n'.join(['HIERARCHY', *lines, 'MOTION', f'Frames: {frames}',
                      f'Frame Time: {1 / fps:.{BVH_DECIMALS + 2}f}'] +
                     [' '.join(f'{v:.{BVH_DECIMALS}f}' for v in row)
                      for row in motion]) + '\n'
    return _write(path, '.bvh', text.encode())


def export_smpl_bvh(path: PathLike, body_model, params, fps: float,
                    **kwargs) -> Path:
    """Write one track's SMPL parameters over a video as BVH.

    Args:
        path: Output ``.bvh``.
        body_model: :class:`pointhmr_mm.models.body_models.SMPL` whose
            skeleton the file uses.
        params: ``global_orient`` (T, 3), ``body_pose`` (T, 23, 3) and
            optionally ``transl`` (T, 3) and ``betas`` (T, B) or (B, ) (the
            skeleton takes their mean: one body per track); keys may carry
            an ``smpl_`` prefix, as in the results file.
        fps: Frames per second of the video.
        **kwargs: Passed to :func:`export_bvh` (``channel_order``,
            ``scale``, ``names``, ``camera_to_y_up``).

    Returns:
        Path: the file written.
    """
    values = {k[len('smpl_'):] if k.startswith('smpl_') else k: v
              for k, v in params.items()}
    missing = [k for k in ('global_orient', 'body_pose') if k not in values]
    if missing:
        raise KeyError(f'params lacks {missing} (has {sorted(params)})')
    betas = values.get('betas')
    if betas is not None:
        betas = np.asarray(betas, dtype=np.float64)
        betas = betas.mean(0) if betas.ndim == 2 else betas
    rest, parents = smpl_skeleton(body_model, betas)
    return export_bvh(path, rest, parents, values['global_orient'],
                      values['body_pose'], values.get('transl'), fps,
                      **kwargs)


__all__ = ['SMPL_JOINT_NAMES', 'export_bvh', 'export_glb', 'export_obj',
           'export_smpl_bvh', 'smpl_skeleton', 'vertex_colors']
