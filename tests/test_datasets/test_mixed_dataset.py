from collections import Counter

import pytest
from mmengine.dataset import DefaultSampler
from torch.utils.data import Dataset

from pointhmr_mm.datasets import MixedMeshDataset
from pointhmr_mm.setup_env import register_all_modules

from toolbox.datasets import write_human_data, write_metro

register_all_modules()


class Numbers(Dataset):
    """Sample ``idx`` of dataset ``tag`` is ``(tag, idx)``."""

    def __init__(self, tag, size):
        self.tag, self.size = tag, size

    def __len__(self):
        return self.size

    def __getitem__(self, idx):
        return (self.tag, idx)


def mixture(**kwargs):
    kwargs.setdefault('partition', [0.3, 0.7])
    kwargs.setdefault('num_samples', 100)
    return MixedMeshDataset([Numbers('a', 7), Numbers('b', 500)], **kwargs)


def test_composition_follows_ratios_through_the_sampler():
    mixed = mixture(seed=1)
    sampler = DefaultSampler(mixed, shuffle=True, seed=0)
    drawn = [mixed[i] for i in sampler]
    assert len(drawn) == 100
    assert Counter(tag for tag, _ in drawn) == {'a': 30, 'b': 70}
    # every sample of the small set comes up before any repeats
    small = [mixed[i][1] for i in range(30)]
    assert sorted(small[:7]) == list(range(7))
    assert Counter(small).most_common(1)[0][1] == 5  # 30 = 4 * 7 + 2
    # same seed, same mixture; another seed, another draw
    assert [mixture(seed=1)[i] for i in range(100)] == \
        [mixed[i] for i in range(100)]
    assert [mixture(seed=2)[i] for i in range(100)] != \
        [mixed[i] for i in range(100)]


def test_set_epoch_redraws_subsets_of_large_sets():
    mixed = mixture(seed=0)
    first = {mixed[i][1] for i in range(30, 100)}
    mixed.set_epoch(1)
    second = {mixed[i][1] for i in range(30, 100)}
    assert first != second and len(second) == 70
    assert Counter(mixed[i][0] for i in range(100)) == {'a': 30, 'b': 70}


def test_default_length_and_real_datasets(tmp_path):
    (tmp_path / 'metro').mkdir()
    hd = dict(type='HumanDataDataset',
              ann_file=str(write_human_data(tmp_path / 'hd.npz')),
              data_prefix=dict(img=str(tmp_path)), pipeline=[],
              dataset_name='hd')
    metro = dict(type='MetroTSVDataset',
                 ann_file=str(write_metro(tmp_path / 'metro')),
                 pipeline=[], dataset_name='metro')
    mixed = MixedMeshDataset([hd, metro], partition=[0.5, 0.5])
    assert len(mixed) == 6
    names = Counter(mixed.get_data_info(i)['dataset_name']
                    for i in range(6))
    assert names == {'hd': 3, 'metro': 3}
    assert mixed.metainfo['mixed_datasets'] == ['hd', 'metro']
    assert mixed.locate(3)[0] == 1


def test_bad_arguments():
    with pytest.raises(ValueError, match='sum to 1'):
        mixture(partition=[0.5, 0.6])
    with pytest.raises(ValueError, match='non-negative'):
        mixture(partition=[-0.5, 1.5])
    with pytest.raises(ValueError, match='2 datasets but 3 partition'):
        mixture(partition=[0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match='dataset 0 .* is empty'):
        MixedMeshDataset([Numbers('a', 0), Numbers('b', 3)], [0.5, 0.5],
                         num_samples=4)
    with pytest.raises(ValueError, match='num_samples must be positive'):
        mixture(num_samples=0)
    with pytest.raises(IndexError, match='out of range'):
        mixture()[100]
