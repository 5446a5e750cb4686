import os
import pickle

import numpy as np
import pytest
from dataset_helpers import PIPELINE, metro_person, write_metro

from pointhmr_mm.datasets import MetroTSVDataset
from pointhmr_mm.datasets.metro_tsv_dataset import TSVFile
from pointhmr_mm.utils import register_all_modules

register_all_modules()


def test_reads_rows_by_byte_offset(tmp_path):
    ds = MetroTSVDataset(str(write_metro(tmp_path)), pipeline=PIPELINE,
                         test_mode=True, dataset_name='h36m',
                         eval_protocol='h36m_p2')
    assert len(ds) == 3
    info = ds.get_data_info(2)  # read before row 0 and 1: random access
    assert info['img_path'] == f'{tmp_path / "train.img.tsv"}#2'
    assert info['bbox_center'].tolist() == [24., 32.]
    assert info['bbox_size'] == pytest.approx(60.)
    assert info['keypoints_2d'].shape == (14, 3)
    assert info['keypoints_2d'][0].tolist() == [7., 6., 1.]
    # pelvis-centred, and J14's last joint is J24's head (18)
    np.testing.assert_allclose(info['keypoints_3d'][0], [0.4, 0., 0., 1.])
    np.testing.assert_allclose(info['keypoints_3d'][13], [0., -0.6, 0., 1.],
                               atol=1e-6)
    np.testing.assert_allclose(info['smpl_pose'], 0.2, rtol=1e-6)
    assert info['smpl_betas'].shape == (10, ) and info['has_smpl'] == 1
    assert info['gender'] == 'male' and info['eval_protocol'] == 'h36m_p2'
    out = ds[2]
    assert out['inputs'].shape == (3, 32, 32)
    # the crop's centre shows image 2 (grey 80), not the padding
    assert abs(float(out['inputs'][:, 16, 16].float().mean()) - 80) < 4


def test_linelist_selects_rows(tmp_path):
    ds = MetroTSVDataset(str(write_metro(tmp_path, linelist=[2, 0])),
                         pipeline=[])
    assert len(ds) == 2
    assert ds.get_data_info(0)['img_path'].endswith('#2')
    assert ds.get_data_info(1)['keypoints_2d'][0, 0] == 5.


def test_missing_labels_get_zero_confidence(tmp_path):
    person = metro_person(0)
    del person['3d_joints'], person['pose'], person['betas']
    person.update(has_3d_joints=0, has_smpl=0, gender='none')
    ds = MetroTSVDataset(str(write_metro(
        tmp_path, count=1, people=[person])), pipeline=[])
    info = ds.get_data_info(0)
    assert not info['keypoints_3d'].any() and info['has_smpl'] == 0
    assert info['gender'] == 'neutral'


def test_file_handles_reopen_per_process(tmp_path):
    write_metro(tmp_path)
    tsv = TSVFile(str(tmp_path / 'train.label.tsv'))
    assert tsv.row(1)[0] == 'img1'
    first = tsv._handle
    tsv._pid = os.getpid() + 1  # as seen by a forked worker
    assert tsv.row(0)[0] == 'img0' and tsv._handle is not first
    clone = pickle.loads(pickle.dumps(tsv))  # spawned workers
    assert clone._handle is None and clone.row(2)[0] == 'img2'


def test_bad_rows_name_file_and_row(tmp_path):
    person = metro_person(1)
    person['3d_joints'][0][3][0] = float('nan')
    ds = MetroTSVDataset(str(write_metro(
        tmp_path, people=[metro_person(0), person, metro_person(2)])),
                         pipeline=[])
    with pytest.raises(ValueError, match=r"label.tsv row 1: '3d_joints' "
                       'has NaN'):
        ds.get_data_info(1)
    person = metro_person(0)
    person['2d_joints'] = person['2d_joints'][0][:17]
    (tmp_path / 'j').mkdir()
    ds = MetroTSVDataset(str(write_metro(
        tmp_path / 'j', count=1, people=[person])), pipeline=[])
    with pytest.raises(ValueError, match=r"row 0: key '2d_joints' has "
                       r'shape \(17, 3\)'):
        ds.get_data_info(0)
    person = metro_person(0)
    person['scale'] = 0.
    (tmp_path / 's').mkdir()
    ds = MetroTSVDataset(str(write_metro(
        tmp_path / 's', count=1, people=[person])), pipeline=[])
    with pytest.raises(ValueError, match="row 0: 'scale' must be positive"):
        ds.get_data_info(0)
    (tmp_path / 'k').mkdir()
    ds = MetroTSVDataset(str(write_metro(
        tmp_path / 'k', img_keys=['img0', 'other', 'img2'])), pipeline=[])
    with pytest.raises(ValueError, match="row 1 has key 'other' but .*"
                       "label.tsv row 1 has 'img1'"):
        ds.get_data_info(1)


def test_corrupt_jpeg_policy(tmp_path):
    yaml_file = str(write_metro(tmp_path, corrupt_row=1))
    strict = MetroTSVDataset(yaml_file, pipeline=PIPELINE, test_mode=True)
    with pytest.raises(RuntimeError, match=r'sample 1 .*img.tsv#1'):
        strict[1]
    lenient = MetroTSVDataset(yaml_file, pipeline=PIPELINE, on_error='skip')
    out = lenient[1]
    assert out['data_samples'].sample_idx in (0, 2)
    assert lenient.num_skipped >= 1


def test_bad_yaml_and_index_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.yaml'):
        MetroTSVDataset(str(tmp_path / 'nope.yaml'), pipeline=[])
    (tmp_path / 'bad.yaml').write_text('img: train.img.tsv\n')
    with pytest.raises(KeyError, match="bad.yaml has no key 'label'"):
        MetroTSVDataset(str(tmp_path / 'bad.yaml'), pipeline=[])
    yaml_file = write_metro(tmp_path)
    (tmp_path / 'train.hw.lineidx').write_text('0\n')
    with pytest.raises(ValueError, match='hw.tsv has 1 rows'):
        MetroTSVDataset(str(yaml_file), pipeline=[])
    yaml_file = write_metro(tmp_path, linelist=[0, 5])
    with pytest.raises(ValueError, match='linelist.tsv line 1: row 5'):
        MetroTSVDataset(str(yaml_file), pipeline=[])
    yaml_file = write_metro(tmp_path, with_hw=False)
    (tmp_path / 'train.label.lineidx').unlink()
    with pytest.raises(FileNotFoundError, match='train.label.lineidx'):
        MetroTSVDataset(str(yaml_file), pipeline=[])
