import cv2
import numpy as np
import pytest

from pointhmr_mm.datasets.transforms import LoadMeshImage
from pointhmr_mm.registry import TRANSFORMS


def encoded(img, ext='.png'):
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def test_builds_from_registry():
    assert isinstance(TRANSFORMS.build(dict(type='LoadMeshImage')),
                      LoadMeshImage)


def test_reads_path_as_bgr(tmp_path):
    img = np.zeros((6, 9, 3), np.uint8)
    img[..., 0] = 200  # blue in BGR
    path = tmp_path / 'a.png'
    path.write_bytes(encoded(img))
    out = LoadMeshImage()(dict(img_path=str(path), sample_idx=0))
    np.testing.assert_array_equal(out['img'], img)
    assert out['ori_shape'] == (6, 9) and out['img_shape'] == (6, 9)


def test_bytes_win_over_path_and_are_dropped():
    img = np.random.default_rng(0).integers(0, 255, (5, 7, 3), np.uint8)
    out = LoadMeshImage()(dict(img_bytes=encoded(img),
                               img_path='images.tsv#3', sample_idx=3))
    np.testing.assert_array_equal(out['img'], img)
    assert 'img_bytes' not in out and out['img_path'] == 'images.tsv#3'


def test_missing_file_names_file_and_sample(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'sample 7 .*missing\.jpg'):
        LoadMeshImage()(dict(img_path=str(tmp_path / 'missing.jpg'),
                             sample_idx=7))


@pytest.mark.parametrize('data', [b'\xff\xd8 not really a jpeg', b''])
def test_corrupt_bytes_name_file_and_sample(tmp_path, data):
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(data)
    with pytest.raises(ValueError, match=r'sample 1 .*bad\.jpg'):
        LoadMeshImage()(dict(img_path=str(bad), sample_idx=1))
    with pytest.raises(ValueError, match=r'sample 2 .*rows\.tsv#2'):
        LoadMeshImage()(dict(img_bytes=data, img_path='rows.tsv#2',
                             sample_idx=2))


def test_truncated_jpeg_is_refused():
    img = np.random.default_rng(1).integers(0, 255, (32, 32, 3), np.uint8)
    data = encoded(img, '.jpg')[:40]  # header only
    with pytest.raises(ValueError, match='cannot decode'):
        LoadMeshImage()(dict(img_bytes=data, img_path='t.jpg'))


def test_no_source_and_bad_array_are_refused():
    with pytest.raises(KeyError, match='img_path'):
        LoadMeshImage()(dict(sample_idx=4))
    with pytest.raises(ValueError, match='uint8'):
        LoadMeshImage()(dict(img=np.zeros((4, 4), np.uint8), img_path='x'))


def test_given_array_passes_through():
    img = np.full((3, 4, 3), 7, np.uint8)
    out = LoadMeshImage()(dict(img=img, img_path='<array>'))
    assert out['img'] is img and out['ori_shape'] == (3, 4)
