import base64
import json
import os
import pickle

import cv2
import numpy as np
import pytest
import yaml

from pointhmr_mm.datasets import MetroTSVDataset
from pointhmr_mm.datasets.conventions import SURREAL_GENDER_CODES
from pointhmr_mm.datasets.metro_tsv_dataset import TSVFile

from toolbox.datasets import (PIPELINE, metro_person, write_linelist,
                              write_metro, write_metro_composite_mixture,
                              write_tsv)
from pointhmr_mm.setup_env import register_all_modules

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
    yaml_file = write_metro(tmp_path, linelist=[2, 0])
    # METRO's generate_linelist_file: one row number a line, and a lineidx
    assert (tmp_path / 'train.linelist.tsv').read_text() == '2\n0\n'
    assert (tmp_path / 'train.linelist.lineidx').is_file()
    ds = MetroTSVDataset(str(yaml_file), pipeline=[])
    assert len(ds) == 2
    assert ds.get_data_info(0)['img_path'].endswith('#2')
    assert ds.get_data_info(1)['keypoints_2d'][0, 0] == 5.


def test_plain_yaml_refuses_a_composite_linelist(tmp_path):
    yaml_file = write_metro(tmp_path)
    write_linelist(tmp_path / 'mix.linelist.tsv', [(0, 2), (0, 1)])
    spec = yaml.safe_load(yaml_file.read_text())
    spec['linelist'] = 'mix.linelist.tsv'
    yaml_file.write_text(yaml.safe_dump(spec))
    # read as plain, '0<TAB>2' would silently give row 0
    with pytest.raises(ValueError, match=r"train.yaml: linelist .*line 0: "
                       r"'0\\t2' is a composite linelist line .*composite: "
                       'true'):
        MetroTSVDataset(str(yaml_file), pipeline=[])
    (tmp_path / 'mix.linelist.tsv').write_text('1\nrow3\n')
    with pytest.raises(ValueError, match="line 1: 'row3' is not one row "
                       'number'):
        MetroTSVDataset(str(yaml_file), pipeline=[])


def test_image_is_the_last_column(tmp_path):
    ds = MetroTSVDataset(str(write_metro(tmp_path, extra_columns=2)),
                         pipeline=PIPELINE, test_mode=True)
    fields = (tmp_path / 'train.img.tsv').read_text().splitlines()[2]
    assert len(fields.split('\t')) == 4
    img = cv2.imdecode(np.frombuffer(ds.get_data_info(2)['img_bytes'],
                                     np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (64, 48, 3) and abs(float(img.mean()) - 80) < 4
    assert abs(float(ds[2]['inputs'][:, 16, 16].float().mean()) - 80) < 4


def test_hw_rows_in_both_formats(tmp_path):
    ds = MetroTSVDataset(str(write_metro(tmp_path)), pipeline=[])
    assert ds.get_data_info(1)['hw'] == (64, 48)
    write_tsv(tmp_path / 'train.hw.tsv',
              [['img0', '64 48'], ['img1', '60 40'], ['img2', 'tall']])
    ds = MetroTSVDataset(str(tmp_path / 'train.yaml'), pipeline=[])
    assert ds.get_data_info(1)['hw'] == (60, 40)
    with pytest.raises(ValueError, match=r"train.yaml: 'hw' .*train.hw.tsv "
                       "row 2: 'tall' is neither"):
        ds.get_data_info(2)


def composite_pairs(yaml_file):
    text = (yaml_file.parent / 'train.linelist.tsv').read_text()
    return [tuple(int(v) for v in line.split('\t'))
            for line in text.splitlines()]


def source_row(yaml_file, key, source, row):
    """Fields of ``row`` of source ``source``'s ``key`` TSV, read without
    the dataset."""
    name = yaml.safe_load(yaml_file.read_text())[key][source]
    text = (yaml_file.parent / name).read_text().splitlines()[row]
    return (yaml_file.parent / name).resolve(), text.split('\t')


def test_composite_mixture_yields_linelist_order(tmp_path):
    yaml_file = write_metro_composite_mixture(tmp_path, num_sources=3,
                                              rows_per_source=2,
                                              image_hw=(50, 40))
    pairs = composite_pairs(yaml_file)
    assert sorted(pairs) == [(s, r) for s in range(3) for r in range(2)]
    assert pairs != sorted(pairs)  # shuffled: order must come from the file
    ds = MetroTSVDataset(str(yaml_file), pipeline=[])
    assert len(ds) == 6
    for i, (source, row) in enumerate(pairs):
        info = ds.get_data_info(i)
        img_file, img_fields = source_row(yaml_file, 'img', source, row)
        _, label_fields = source_row(yaml_file, 'label', source, row)
        person = json.loads(label_fields[1])[0]
        path, num = info['img_path'].rsplit('#', 1)
        assert os.path.samefile(path, img_file) and int(num) == row
        assert info['img_bytes'] == base64.b64decode(img_fields[-1])
        np.testing.assert_allclose(info['bbox_center'], person['center'])
        np.testing.assert_allclose(
            info['keypoints_2d'],
            np.asarray(person['2d_joints'])[0][list(range(13)) + [18]],
            rtol=1e-6)
        np.testing.assert_allclose(info['smpl_pose'], person['pose'],
                                   rtol=1e-6)
        assert info['hw'] == (50, 40)
        assert info['gender'] == dict(m='male', f='female')[person['gender']]
    out = MetroTSVDataset(str(yaml_file), pipeline=PIPELINE,
                          test_mode=True)[0]
    assert out['inputs'].shape == (3, 32, 32)


def test_composite_sources_from_a_list_file(tmp_path):
    yaml_file = write_metro_composite_mixture(tmp_path, num_sources=2)
    spec = yaml.safe_load(yaml_file.read_text())
    (yaml_file.parent / 'img.list.txt').write_text(
        '\n'.join(spec['img']) + '\n')
    spec['img'] = 'img.list.txt'  # METRO's CompositeTSVFile also takes this
    yaml_file.write_text(yaml.safe_dump(spec))
    ds = MetroTSVDataset(str(yaml_file), pipeline=[])
    assert len(ds) == 4 and ds.get_data_info(3)['img_bytes']


def rewrite(yaml_file, **changes):
    spec = yaml.safe_load(yaml_file.read_text())
    spec.update(changes)
    for key in [k for k, v in spec.items() if v is None]:
        del spec[key]
    yaml_file.write_text(yaml.safe_dump(spec))
    return str(yaml_file)


def test_bad_composite_yamls_name_yaml_key_and_line(tmp_path):
    yaml_file = write_metro_composite_mixture(tmp_path)
    spec = yaml.safe_load(yaml_file.read_text())
    with pytest.raises(KeyError, match="train.yaml: a composite yaml needs "
                       "'linelist'"):
        MetroTSVDataset(rewrite(yaml_file, linelist=None), pipeline=[])
    rewrite(yaml_file, linelist='train.linelist.tsv')
    with pytest.raises(ValueError, match=r"train.yaml: 'label' lists 2 "
                       "files but 'img' lists 3"):
        MetroTSVDataset(rewrite(yaml_file, label=spec['label'][:2]),
                        pipeline=[])
    with pytest.raises(FileNotFoundError, match=r"train.yaml: 'label'\[1\]:"
                       ' file ../nowhere.tsv not found'):
        MetroTSVDataset(rewrite(yaml_file, label=[spec['label'][0],
                                                  '../nowhere.tsv',
                                                  spec['label'][2]]),
                        pipeline=[])
    rewrite(yaml_file, label=spec['label'])
    with pytest.raises(ValueError, match=r"train.yaml: 'img' is a list of 3"
                       " files; .*'composite: true'"):
        MetroTSVDataset(rewrite(yaml_file, composite=False), pipeline=[])
    rewrite(yaml_file, composite=True)
    lines = (yaml_file.parent / 'train.linelist.tsv').read_text()
    for bad, message in (('3\t0', "line 1: source 3 is outside 'img' "
                          r'\(3 files\)'),
                         ('1\t7', r'line 1: row 7 is outside .*source1.*'
                          r'\(2 rows\)'),
                         ('4', "line 1: '4' is not "
                          '"source_index<TAB>row"')):
        (yaml_file.parent / 'train.linelist.tsv').write_text(
            lines.splitlines()[0] + '\n' + bad + '\n')
        with pytest.raises(ValueError, match=r'train.yaml: linelist .*'
                           + message):
            MetroTSVDataset(str(yaml_file), pipeline=[])


def test_gender_codes_and_bad_labels(tmp_path):
    people = [metro_person(i) for i in range(3)]
    people[0]['gender'], people[1]['gender'] = 0, 1
    people[2] = 'not a person'
    ds = MetroTSVDataset(str(write_metro(tmp_path, people=people)),
                         pipeline=[], gender_codes=SURREAL_GENDER_CODES)
    assert [ds.get_data_info(i)['gender'] for i in range(2)] == [
        'female', 'male']
    assert MetroTSVDataset(str(tmp_path / 'train.yaml'),
                           pipeline=[]).get_data_info(0)['gender'] == 'male'
    with pytest.raises(ValueError, match=r"train.yaml: 'label' .*label.tsv "
                       'row 2: expected a JSON list of people'):
        ds.get_data_info(2)


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
