import numpy as np

from pointhmr_mm.datasets import HumanDataDataset
from pointhmr_mm.datasets.synthetic import write_split


def test_generated_split_reloads_and_is_consistent(tmp_path, mannequin_dir):
    ann = write_split(tmp_path, 'train', 4, mannequin_dir, image_size=96,
                      seed=0)
    ds = HumanDataDataset(str(ann), data_prefix=dict(img=str(tmp_path)),
                          pipeline=[], bbox_scale=1.0)
    assert len(ds) == 4
    for i in range(4):
        info = ds.get_data_info(i)
        kp = info['keypoints_2d']
        half = info['bbox_size'] / 2 + 2.
        assert (np.abs(kp[:, :2] - info['bbox_center']) <= half).all()
        assert info['has_smpl'] == 1 and (kp[:, 2] == 1).all()
    import cv2
    img = cv2.imread(str(tmp_path / 'images' / 'train' / '000000.jpg'))
    assert img.shape == (96, 96, 3) and img.std() > 5
