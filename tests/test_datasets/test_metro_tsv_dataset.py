import base64
import json

import cv2
import numpy as np
import pytest

from pointhmr_mm.datasets import MetroTSVDataset
from pointhmr_mm.utils import register_all_modules

register_all_modules()


def write_tsv(path, rows):
    """Rows joined by tabs, with X.lineidx listing each row's byte offset."""
    offsets, data = [], b''
    for row in rows:
        offsets.append(len(data))
        data += ('\t'.join(row) + '\n').encode()
    path.write_bytes(data)
    path.with_suffix('.lineidx').write_text(
        ''.join(f'{o}\n' for o in offsets))


def write_metro(folder, count=3, nan_row=None, mismatched_key=False):
    imgs, labels = [], []
    for i in range(count):
        img = np.full((64, 48, 3), 40 * i, np.uint8)
        jpeg = base64.b64encode(cv2.imencode('.jpg', img)[1]).decode()
        j2d = np.tile([[24., 32., 1.]], (24, 1))
        j3d = np.zeros((24, 4))
        j3d[:, 3] = 1.
        j3d[14, :3] = [0.1, 0.2, 3.]  # pelvis
        j3d[0, :3] = [0.5, 0.2, 3.]
        if i == nan_row:
            j3d[3, 0] = float('nan')
        person = dict(center=[24., 32.], scale=0.3, has_smpl=1,
                      gender='m', pose=[0.] * 72, betas=[0.] * 10,
                      has_2d_joints=1, has_3d_joints=1,
                      **{'2d_joints': j2d.tolist(),
                         '3d_joints': j3d.tolist()})
        key = f'img{i}'
        imgs.append([key + ('x' if mismatched_key and i == 1 else ''), jpeg])
        labels.append([key, json.dumps([person])])
    write_tsv(folder / 'train.img.tsv', imgs)
    write_tsv(folder / 'train.label.tsv', labels)
    (folder / 'train.yaml').write_text(
        'img: train.img.tsv\nlabel: train.label.tsv\n')
    return folder / 'train.yaml'


PIPELINE = [dict(type='LoadMeshImage'),
            dict(type='MeshRandomAugParams', test_mode=True),
            dict(type='MeshAffineCrop'), dict(type='PackMeshInputs')]


def test_reads_rows_by_offset(tmp_path):
    ds = MetroTSVDataset(str(write_metro(tmp_path)), pipeline=PIPELINE,
                         test_mode=True)
    assert len(ds) == 3
    info = ds.get_data_info(2)
    assert info['bbox_size'] == pytest.approx(60.)
    np.testing.assert_allclose(info['keypoints_3d'][0, :3], [0.4, 0., 0.])
    assert info['gender'] == 'male'
    out = ds[2]
    assert out['inputs'].shape == (3, 224, 224)
    # the crop's centre shows the image (grey level 80), not the padding
    assert abs(int(out['inputs'][:, 112, 112].float().mean()) - 80) <= 3


def test_errors_name_row(tmp_path):
    ds = MetroTSVDataset(str(write_metro(tmp_path, nan_row=1)), pipeline=[])
    with pytest.raises(ValueError, match='row 1.*NaN'):
        ds.get_data_info(1)
    (tmp_path / 'k').mkdir()
    ds = MetroTSVDataset(str(write_metro(tmp_path / 'k',
                                         mismatched_key=True)), pipeline=[])
    with pytest.raises(ValueError, match='row 1 has key'):
        ds.get_data_info(1)
    with pytest.raises(FileNotFoundError, match='nope.yaml'):
        MetroTSVDataset(str(tmp_path / 'nope.yaml'), pipeline=[])
