"""tools/analysis/benchmark_dataloader.py on a small generated split."""
import json

import pytest
from mmengine.config import Config

from pointhmr_mm.synthetic import write_split
from toolbox import load_tool

PIPELINE = [
    dict(type='LoadMeshImage'),
    dict(type='MeshRandomAugParams'),
    dict(type='MeshAffineCrop', crop_size=32),
    dict(type='MeshPixelNoise'),
    dict(type='PackMeshInputs'),
]


@pytest.fixture(scope='module')
def loader_config(body_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp('bench_loader')
    write_split(out, 'train', 12, body_model_dir, image_size=48, seed=0)
    cfg = Config(dict(
        default_scope='pointhmr_mm',
        randomness=dict(seed=0),
        train_dataloader=dict(
            batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(type='HumanDataDataset',
                         ann_file=str(out / 'train.npz'),
                         data_prefix=dict(img=str(out)),
                         pipeline=PIPELINE))))
    path = out / 'cfg.py'
    cfg.dump(str(path))
    return path


@pytest.mark.slow
def test_reports_images_per_second_and_transform_shares(loader_config,
                                                       tmp_path):
    tool = load_tool('analysis/benchmark_dataloader')
    out = tmp_path / 'loader.json'
    assert tool.main([str(loader_config), '--workers', '0', '1',
                      '--batches', '3', '--warmup', '1',
                      '--profile-samples', '4', '--json', str(out)]) == 0
    result = json.loads(out.read_text())
    assert [r['workers'] for r in result['runs']] == [0, 1]
    for run in result['runs']:
        assert run['images'] == 6 and run['images_per_s'] > 0
    names = [row['transform'] for row in result['transforms']]
    assert names == [step['type'] for step in PIPELINE]
    assert sum(row['share'] for row in result['transforms']) == \
        pytest.approx(1.)


def test_too_few_batches_is_an_error(loader_config):
    tool = load_tool('analysis/benchmark_dataloader')
    with pytest.raises(ValueError, match='has 6 batches'):
        tool.main([str(loader_config), '--workers', '0', '--batches', '6',
                   '--warmup', '1', '--profile-samples', '0'])
