"""MeshTargets: the body models, the mesh hierarchy, GT meshes and the
heatmap geometry of a PointHMR model."""
import ast
import shutil

import pytest
import torch
from mmengine.structures import BaseDataElement

from pointhmr_mm.models.task_modules import MeshTargets
from pointhmr_mm.registry import TASK_UTILS
from pointhmr_mm.utils.keypoints import H36M_TO_J14

from toolbox import ROOT
from toolbox.tiny_model import make_batch, mesh_targets_cfg


def build(body_model_dir, mesh_sampler_file, **kwargs):
    cfg = mesh_targets_cfg(body_model_dir, mesh_sampler_file, **kwargs)
    return TASK_UTILS.build(cfg)


@pytest.fixture(scope='module')
def targets(body_model_dir, mesh_sampler_file):
    return build(body_model_dir, mesh_sampler_file)


@pytest.fixture(scope='module')
def other_body(tmp_path_factory):
    """A second embedded body of another vertex count, with its own
    hierarchy."""
    from pointhmr_mm.models.body_models.embedded import write_embedded_body
    out = tmp_path_factory.mktemp('other_body')
    write_embedded_body(out, num_vertices=400, levels=(200, 100))
    return out


def test_geometry_is_derived_from_the_crop(targets):
    assert targets.crop_size == 64
    assert targets.num_vertices == targets.mesh_sampler.num_vertices[-1]
    assert targets.num_grid_tokens == (64 // 32)**2
    assert targets.heatmap_size == 64 // 4
    assert targets.target_size == 2 * targets.heatmap_size
    # built from a file, never saved: nothing in a state dict
    assert targets.state_dict() == {}
    assert not list(targets.parameters())


@pytest.mark.parametrize('kwargs, message', [
    (dict(crop_size=100), 'crop_size=100 is not a multiple of the grid'),
    (dict(crop_size=0), 'crop_size must be a positive int'),
    (dict(crop_size=96, heatmap_stride=5), 'of heatmap_stride=5'),
    (dict(heatmap_upscale=0), 'heatmap_upscale must be a positive int'),
])
def test_bad_arguments(body_model_dir, mesh_sampler_file, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(body_model_dir, mesh_sampler_file, **kwargs)


def test_vertex_count_is_checked_against_the_sampler(body_model_dir,
                                                     mesh_sampler_file):
    with pytest.raises(ValueError, match='num_vertices=7') as err:
        build(body_model_dir, mesh_sampler_file, num_vertices=7)
    assert str(mesh_sampler_file) in str(err.value)


def test_sampler_of_another_body_names_both_files(body_model_dir,
                                                  other_body):
    """A hierarchy made for another mesh is refused at build with both
    file names, not at the first step deep inside an einsum."""
    sampler = other_body / 'mesh_downsampling.npz'
    with pytest.raises(ValueError, match='different meshes') as err:
        build(body_model_dir, sampler)
    text = str(err.value)
    assert str(sampler) in text and '400-vertex' in text
    assert str(body_model_dir / 'smpl') in text and '600 vertices' in text


def test_missing_gendered_file_fails_at_build(tmp_path, body_model_dir,
                                              mesh_sampler_file):
    body_dir = tmp_path / 'body_models'
    shutil.copytree(body_model_dir, body_dir)
    for female in (body_dir / 'smpl').glob('SMPL_FEMALE.*'):
        female.unlink()
    with pytest.raises(FileNotFoundError, match='female'):
        build(body_dir, mesh_sampler_file)
    # the neutral model alone is enough without gendered evaluation
    assert build(body_dir, mesh_sampler_file,
                 gendered_eval=False).genders == ('neutral', )


def test_gendered_models_are_built_on_first_use(body_model_dir,
                                                mesh_sampler_file):
    """Training needs only the neutral model; male and female come when
    evaluation first asks, and a mixed batch equals per-gender batches."""
    targets = build(body_model_dir, mesh_sampler_file)
    assert targets.genders == ('neutral', 'male', 'female')
    assert set(targets.body_models) == {'neutral'}
    pose, betas = torch.randn(2, 72) * 0.2, torch.randn(2, 10)
    mixed, _ = targets.gt_meshes(pose, betas, ['male', 'female'])
    assert set(targets.body_models) == {'neutral', 'male', 'female'}
    male, _ = targets.gt_meshes(pose[:1], betas[:1], ['male'])
    female, _ = targets.gt_meshes(pose[1:], betas[1:], ['female'])
    torch.testing.assert_close(mixed[-1], torch.cat([male[-1], female[-1]]))
    assert not torch.allclose(male[-1], female[-1][:1])
    assert targets.state_dict() == {}
    neutral_only = build(body_model_dir, mesh_sampler_file,
                         gendered_eval=False)
    with pytest.raises(KeyError, match='gendered_eval'):
        neutral_only.get_body_model('male')


def test_gt_meshes_are_pelvis_centred_at_every_level(targets):
    pose, betas = torch.randn(3, 72) * 0.2, torch.randn(3, 10)
    levels, joints = targets.gt_meshes(pose, betas)
    assert [v.shape[1] for v in levels] == \
        list(reversed(targets.mesh_sampler.num_vertices))
    assert joints.shape == (3, 17, 3)
    torch.testing.assert_close(joints[:, 0], torch.zeros(3, 3), atol=1e-5,
                               rtol=0)
    # the coarse levels are the full mesh downsampled
    torch.testing.assert_close(
        levels[0], targets.mesh_sampler.downsample(levels[-1], 0, -1))
    assert targets.regress_j14(levels[-1]).shape == (3, 14, 3)


def test_loss_targets_and_gt_meshes_of_samples(targets):
    samples = make_batch(batch=3)['data_samples']
    loss_targets = targets.loss_targets(samples)
    assert [v.shape[:2] for v in loss_targets['gt_vertices']] == \
        [(3, n) for n in reversed(targets.mesh_sampler.num_vertices)]
    assert loss_targets['has_smpl'].shape == (3, )
    assert loss_targets['gt_keypoints_3d'].shape == (3, 14, 4)
    # only labelled samples get GT meshes, each with its gender's model
    samples[1].has_smpl = torch.tensor(0.)
    samples.append(BaseDataElement())
    targets.add_gt_meshes(samples)
    assert ['gt_vertices' in s for s in samples] == [True, False, True, False]
    male, _ = targets.gt_meshes(samples[0].gt_pose[None],
                                samples[0].gt_betas[None], ['male'])
    torch.testing.assert_close(samples[0].gt_vertices, male[-1][0])


def test_joints_from_mesh_fill_only_meshes_without_joints(
        body_model_dir, mesh_sampler_file):
    samples = make_batch(batch=3)['data_samples']
    for sample in samples[:2]:  # SMPL but no 3D joints (3DPW, BEDLAM)
        sample.gt_keypoints_3d[:, 3] = 0.
    samples[1].has_smpl = torch.tensor(0.)  # and neither
    kept = [s.gt_keypoints_3d.clone() for s in samples]
    off = build(body_model_dir, mesh_sampler_file).loss_targets(samples)
    on = build(body_model_dir, mesh_sampler_file,
               joints_from_mesh=True).loss_targets(samples)
    torch.testing.assert_close(off['gt_keypoints_3d'], torch.stack(kept))
    _, h36m = build(body_model_dir, mesh_sampler_file).gt_meshes(
        samples[0].gt_pose[None], samples[0].gt_betas[None])
    expected = torch.cat([h36m[0, list(H36M_TO_J14)], torch.ones(14, 1)], 1)
    torch.testing.assert_close(on['gt_keypoints_3d'][0], expected)
    torch.testing.assert_close(on['gt_keypoints_3d'][1:],
                               torch.stack(kept[1:]))


def test_heatmap_targets_on_the_map(targets):
    """Targets are placed at ``target_size`` and mapped to their parent
    pixel of the ``heatmap_size`` map; off-map vertices get -1."""
    size = targets.target_size  # 32, heatmap 16
    # pixel centres (col, row) on the 32 px map, camera scale 1, no shift
    pixels = torch.tensor([[0.5, 0.5], [31.5, 0.5], [5.5, 9.5], [32.5, 3.]])
    xy = pixels / size * 2 - 1
    vertices = torch.cat([xy, torch.zeros(4, 1)], dim=1)[None]
    index = targets.heatmap_targets(vertices, torch.tensor([[1., 0., 0.]]))
    side = targets.heatmap_size
    assert index.tolist() == [[0, 15, 4 * side + 2, -1]]


def released_make_gt_index(xy, size):
    """The released ``make_gt`` (PointHMR_release, src/tools/loss.py),
    written out: pixel = (xy + 1) / 2 * size truncated toward zero by
    ``.long()``, flat index size * y + x, kept where 0 <= index < size^2."""
    pixel = (xy + 1) * 0.5 * size
    x, y = pixel[..., 0].long(), pixel[..., 1].long()
    index = size * y + x
    kept = (index < size * size) & (index > -1)
    return torch.where(kept, index, torch.full_like(index, -1))


def test_off_map_rule_differs_from_released_only_off_the_map():
    """The project floors and bounds x and y separately; the released rule
    truncates and bounds only the flat index. They differ exactly for
    points off the map that the released rule puts on it: within a pixel
    left of or above the map (column or row 0) and past the left or right
    edge (wrapped to another row)."""
    size = 112
    cases = {  # (x, y) in pixels of the 112 px map
        'inside': (10.5, 20.5),
        'last pixel': (111.5, 111.5),
        'just left': (-0.4, 20.5),
        'just above': (10.5, -0.4),
        'just left and above': (-0.4, -0.4),
        'past the right edge': (112.5, 20.5),
        'far left': (-2.5, 20.5),
        'below the map': (10.5, 112.5),
        'past the right edge, last row': (112.5, 111.5),
        'far above': (10.5, -1.5),
    }
    xy = torch.tensor(list(cases.values()), dtype=torch.float64)
    xy = xy / size * 2 - 1
    ours = MeshTargets.pixel_index(xy, size).tolist()
    released = released_make_gt_index(xy, size).tolist()
    ours, released = dict(zip(cases, ours)), dict(zip(cases, released))
    differ = {name for name in cases if ours[name] != released[name]}
    assert differ == {'just left', 'just above', 'just left and above',
                      'past the right edge', 'far left'}
    assert all(ours[name] == -1 for name in differ)
    assert released['just left'] == 20 * size  # row 20, column 0
    assert released['just above'] == 10  # row 0, column 10
    assert released['just left and above'] == 0
    assert released['past the right edge'] == 21 * size  # wrapped
    assert released['far left'] == 20 * size - 2  # end of row 19
    assert ours['inside'] == released['inside'] == 20 * size + 10
    assert ours['last pixel'] == released['last pixel'] == size * size - 1
    # on random points the rules agree wherever the project's is on the map
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(20000, 2, generator=gen, dtype=torch.float64) * 2.4 - 1.2
    ours, released = MeshTargets.pixel_index(xy, size), \
        released_make_gt_index(xy, size)
    on_map = ours >= 0
    assert torch.equal(ours[on_map], released[on_map])
    assert ((released != ours) == (~on_map & (released >= 0))).all()


PARTS = ('estimators', 'heads', 'necks', 'losses')


def imported_modules(path):
    """The absolute names of what a module of ``pointhmr_mm/models/``
    imports (relative imports resolved)."""
    package = 'pointhmr_mm.' + '.'.join(
        path.relative_to(ROOT / 'pointhmr_mm').parent.parts)
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit('.', node.level - 1)[0] \
                if node.level else ''
            module = '.'.join(filter(None, (base, node.module)))
            names += [module] + [f'{module}.{a.name}' for a in node.names]
    return names


@pytest.mark.parametrize('part', PARTS)
def test_parts_meet_only_through_the_mesh_targets(part):
    """The estimator, the head, the neck and the losses import nothing
    from one another: they share the mesh targets and the registries."""
    others = [f'pointhmr_mm.models.{p}' for p in PARTS if p != part]
    for path in (ROOT / 'pointhmr_mm' / 'models' / part).glob('*.py'):
        bad = [name for name in imported_modules(path)
               if name.startswith(tuple(others))]
        assert not bad, f'{path.relative_to(ROOT)} imports {bad}'
