import math

import numpy as np
import pytest
import torch

from pointhmr_mm.apis.exporters import (CAMERA_TO_Y_UP, SMPL_JOINT_NAMES,
                                        export_bvh, export_glb, export_obj,
                                        export_smpl_bvh, smpl_skeleton,
                                        vertex_colors)
from pointhmr_mm.models.body_models import SMPL

FRAMES = 6
POSE_SIGMA = 0.5  # rad per joint


@pytest.fixture(scope='module')
def body(body_model_dir):
    return SMPL(str(body_model_dir / 'smpl'))


def elementary(axis: str, degrees: float) -> np.ndarray:
    """The rotation matrix about one axis, written out."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return dict(X=np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
                Y=np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
                Z=np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]))[axis]


def read_bvh(path):
    """A minimal BVH reader, independent of the writer: joints in file
    order with parent, offset and channels, and the motion table."""
    tokens = path.read_text().split()
    joints, stack, pos = [], [], 0
    while tokens[pos] != 'MOTION':
        word = tokens[pos]
        if word in ('ROOT', 'JOINT'):
            joints.append(dict(name=tokens[pos + 1], channels=[],
                               parent=stack[-1] if stack else -1))
            pos += 2
        elif word == 'End':  # End Site: skip its block
            pos = tokens.index('}', pos) + 1
        elif word == '{':
            stack.append(len(joints) - 1)
            pos += 1
        elif word == '}':
            stack.pop()
            pos += 1
        elif word == 'OFFSET':
            joints[-1]['offset'] = np.array(tokens[pos + 1:pos + 4], float)
            pos += 4
        elif word == 'CHANNELS':
            count = int(tokens[pos + 1])
            joints[-1]['channels'] = tokens[pos + 2:pos + 2 + count]
            pos += 2 + count
        else:
            pos += 1
    assert tokens[pos + 1:pos + 3] == ['Frames:', tokens[pos + 2]]
    frames = int(tokens[pos + 2])
    frame_time = float(tokens[pos + 5])
    values = np.array(tokens[pos + 6:], float).reshape(frames, -1)
    return joints, frame_time, values


def forward_kinematics(joints, row):
    """World positions of every joint for one motion row."""
    out, world, column = [], [], 0
    for joint in joints:
        rotation, position = np.eye(3), np.zeros(3)
        for channel in joint['channels']:
            value = row[column]
            column += 1
            if channel.endswith('position'):
                position['XYZ'.index(channel[0])] = value
            else:
                rotation = rotation @ elementary(channel[0], value)
        parent = joint['parent']
        if parent < 0:
            origin, frame = position + joint['offset'], rotation
        else:
            origin = out[parent] + world[parent] @ joint['offset']
            frame = world[parent] @ rotation
        out.append(origin)
        world.append(frame)
    return np.stack(out)


def random_motion(body, seed):
    gen = torch.Generator().manual_seed(seed)
    return dict(
        betas=torch.randn(1, body.num_betas, generator=gen),
        global_orient=torch.randn(FRAMES, 3, generator=gen),
        body_pose=torch.randn(FRAMES, 69, generator=gen) * POSE_SIGMA,
        transl=torch.randn(FRAMES, 3, generator=gen))


@pytest.mark.parametrize('order,scale,y_up', [('ZXY', 1., True),
                                              ('XYZ', 100., False)])
def test_bvh_joints_match_the_body_model(tmp_path, body, order, scale, y_up):
    motion = random_motion(body, seed=len(order) + int(scale))
    rest, parents = smpl_skeleton(body, motion['betas'][0])
    path = export_bvh(tmp_path / 'person.bvh', rest, parents,
                      motion['global_orient'].numpy(),
                      motion['body_pose'].numpy().reshape(FRAMES, 23, 3),
                      motion['transl'].numpy(), fps=25., channel_order=order,
                      scale=scale, camera_to_y_up=y_up)
    joints, frame_time, values = read_bvh(path)
    assert [j['name'] for j in joints] == [
        SMPL_JOINT_NAMES[i] for i in _file_order(parents)]
    assert frame_time == pytest.approx(1 / 25.)
    assert values.shape == (FRAMES, 6 + 3 * 23)
    assert joints[1]['channels'] == [f'{a}rotation' for a in order]
    with torch.no_grad():
        truth = body(betas=motion['betas'].expand(FRAMES, -1),
                     **{k: v for k, v in motion.items() if k != 'betas'}
                     )['joints'].double().numpy()
    if y_up:
        truth = truth @ CAMERA_TO_Y_UP.T
    index = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}
    for frame in range(FRAMES):
        got = forward_kinematics(joints, values[frame]) / scale
        want = truth[frame, [index[j['name']] for j in joints]]
        assert np.abs(got - want).max() < 1e-3  # metres


def _file_order(parents):
    children = [[c for c in range(len(parents)) if parents[c] == j]
                for j in range(len(parents))]
    order, stack = [], [0]
    while stack:
        joint = stack.pop()
        order.append(joint)
        stack.extend(reversed(children[joint]))
    return order


def test_smpl_bvh_from_results_fields(tmp_path, body):
    """``smpl_*`` series of a track (betas per frame) give the same file as
    the skeleton of their mean shape."""
    motion = random_motion(body, seed=5)
    betas = motion['betas'].numpy() + np.linspace(-.1, .1, FRAMES)[:, None]
    params = dict(smpl_global_orient=motion['global_orient'].numpy(),
                  smpl_body_pose=motion['body_pose'].numpy().reshape(
                      FRAMES, 23, 3),
                  smpl_transl=motion['transl'].numpy(), smpl_betas=betas)
    path = export_smpl_bvh(tmp_path / 'track.bvh', body, params, fps=30.)
    rest, parents = smpl_skeleton(body, betas.mean(0))
    want = export_bvh(tmp_path / 'want.bvh', rest, parents,
                      params['smpl_global_orient'], params['smpl_body_pose'],
                      params['smpl_transl'], fps=30.)
    assert path.read_text() == want.read_text()
    with pytest.raises(KeyError, match='body_pose'):
        export_smpl_bvh(tmp_path / 'x.bvh', body, dict(global_orient=0),
                        fps=30.)


def test_bvh_rest_pose_is_upright_in_y_up(tmp_path, body):
    """A person upright in the camera (head toward -y) stands along +y."""
    rest, parents = smpl_skeleton(body)
    upright = np.array([[math.pi, 0, 0]])  # SMPL's y up -> camera's y down
    path = export_bvh(tmp_path / 'a.bvh', rest, parents, upright,
                      np.zeros((1, 23, 3)))
    joints, _, values = read_bvh(path)
    positions = forward_kinematics(joints, values[0])
    head = [j['name'] for j in joints].index('head')
    assert positions[head, 1] - positions[0, 1] > 0.3
    np.testing.assert_allclose(values[0, 3:], 0, atol=1e-6)


def test_bvh_bad_arguments(tmp_path, body):
    rest, parents = smpl_skeleton(body)
    orient, pose = np.zeros((2, 3)), np.zeros((2, 23, 3))
    with pytest.raises(ValueError, match='.bvh'):
        export_bvh(tmp_path / 'a.txt', rest, parents, orient, pose)
    with pytest.raises(ValueError, match='channel_order'):
        export_bvh(tmp_path / 'a.bvh', rest, parents, orient, pose,
                   channel_order='XXY')
    with pytest.raises(ValueError, match='body_pose'):
        export_bvh(tmp_path / 'a.bvh', rest, parents, orient, pose[:1])
    with pytest.raises(ValueError, match='transl'):
        export_bvh(tmp_path / 'a.bvh', rest, parents, orient, pose,
                   transl=np.zeros((3, 3)))
    with pytest.raises(ValueError, match='parents'):
        export_bvh(tmp_path / 'a.bvh', rest, parents[::-1], orient, pose)
    with pytest.raises(ValueError, match='names'):
        export_bvh(tmp_path / 'a.bvh', rest, parents, orient, pose,
                   names=['a b'] * 24)
    with pytest.raises(ValueError, match='fps'):
        export_bvh(tmp_path / 'a.bvh', rest, parents, orient, pose, fps=0)
    with pytest.raises(TypeError, match='body_model'):
        smpl_skeleton(torch.nn.Linear(1, 1))
    assert not list(tmp_path.iterdir())


def test_glb_round_trip(tmp_path, body):
    import trimesh
    vertices = body()['vertices'][0].numpy()
    faces = body.faces.numpy()
    colors = np.random.default_rng(0).random((len(vertices), 3))
    path = export_glb(tmp_path / 'person.glb', vertices, faces, colors)
    mesh = trimesh.load(path, process=False, force='mesh')
    assert mesh.vertices.shape == vertices.shape
    np.testing.assert_array_equal(mesh.faces, faces)
    np.testing.assert_allclose(mesh.vertices, vertices @ CAMERA_TO_Y_UP.T,
                               atol=1e-6)
    np.testing.assert_array_equal(mesh.visual.vertex_colors,
                                  vertex_colors(colors, len(vertices)))
    # one colour for the whole person, as the overlay draws it
    path = export_glb(tmp_path / 'plain.glb', vertices, faces, (1., 0, 0),
                      camera_to_y_up=False)
    mesh = trimesh.load(path, process=False, force='mesh')
    np.testing.assert_allclose(mesh.vertices, vertices, atol=1e-6)
    assert (mesh.visual.vertex_colors == [255, 0, 0, 255]).all()


def test_obj_round_trip(tmp_path, body):
    import trimesh
    vertices = body()['vertices'][0].numpy()
    path = export_obj(tmp_path / 'sub' / 'person.obj', vertices,
                      body.faces.numpy())
    mesh = trimesh.load(path, process=False, force='mesh')
    np.testing.assert_allclose(mesh.vertices, vertices, atol=1e-6)
    np.testing.assert_array_equal(mesh.faces, body.faces.numpy())


def test_mesh_bad_arguments(tmp_path):
    vertices, faces = np.zeros((4, 3)), np.array([[0, 1, 2], [1, 2, 3]])
    with pytest.raises(ValueError, match='vertices'):
        export_obj(tmp_path / 'a.obj', vertices[:, :2], faces)
    with pytest.raises(ValueError, match='faces'):
        export_glb(tmp_path / 'a.glb', vertices, faces + 1)
    with pytest.raises(ValueError, match='color'):
        export_glb(tmp_path / 'a.glb', vertices, faces, np.zeros((3, 3)))
    with pytest.raises(ValueError, match='colours'):
        vertex_colors((2., 0, 0), 4)
    with pytest.raises(ValueError, match='.glb'):
        export_glb(tmp_path / 'a.obj', vertices, faces)
    assert vertex_colors(np.uint8([1, 2, 3]), 2).tolist() == \
        [[1, 2, 3, 255]] * 2
