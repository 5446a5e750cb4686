"""Writers of tiny annotation files in the real layouts, for the dataset
tests: HumanData ``.npz`` and METRO's yaml + TSV + lineidx."""
import base64
import json

import cv2
import numpy as np

from pointhmr_mm.datasets.conventions import (HUMAN_DATA_INDEX,
                                              HUMAN_DATA_NUM_KEYPOINTS)

# Load, centre-crop and pack: the smallest pipeline the transforms allow.
PIPELINE = [dict(type='LoadMeshImage'),
            dict(type='MeshRandomAugParams', test_mode=True),
            dict(type='MeshAffineCrop', crop_size=32),
            dict(type='PackMeshInputs')]
IMAGE_HW = (40, 30)


def write_jpeg(path, value=128, hw=IMAGE_HW):
    """A flat grey JPEG at ``path``."""
    cv2.imwrite(str(path), np.full((*hw, 3), value, np.uint8))
    return path


def human_data_arrays(count=3, seed=0):
    """Labels of ``count`` samples in HumanData's uncompressed layout.

    Labelled joints: right_ankle, right_hip_extra and right_hip (the
    former preferred), neck_extra; everything else is masked out.
    """
    rng = np.random.default_rng(seed)
    kp2d = np.zeros((count, HUMAN_DATA_NUM_KEYPOINTS, 3), np.float32)
    kp2d[:, HUMAN_DATA_INDEX['right_ankle']] = [10., 20., 1.]
    kp2d[:, HUMAN_DATA_INDEX['right_hip_extra']] = [11., 21., 1.]
    kp2d[:, HUMAN_DATA_INDEX['right_hip']] = [99., 99., 1.]
    kp2d[:, HUMAN_DATA_INDEX['neck_extra']] = [30., 40., 0.5]
    kp3d = np.zeros((count, HUMAN_DATA_NUM_KEYPOINTS, 4), np.float32)
    kp3d[:, HUMAN_DATA_INDEX['headtop']] = [0.1, -0.7, 3., 1.]
    return dict(
        image_path=np.array([f'img_{i}.jpg' for i in range(count)]),
        bbox_xywh=np.tile([2., 4., 20., 30., 1.], (count, 1)),
        keypoints2d=kp2d,
        keypoints2d_mask=(kp2d[0, :, 2] > 0).astype(np.uint8),
        keypoints3d=kp3d,
        keypoints3d_mask=(kp3d[0, :, 3] > 0).astype(np.uint8),
        smpl=dict(body_pose=rng.normal(size=(count, 23, 3)),
                  global_orient=rng.normal(size=(count, 3)),
                  betas=rng.normal(size=(count, 10))),
        meta=dict(gender=(['m', 'f', 'n'] * count)[:count]),
        config='test')


def compress(arrays):
    """HumanData's compressed layout: keypoint arrays keep only the
    masked-in joints, and the file says so."""
    out = dict(arrays)
    for key in ('keypoints2d', 'keypoints3d'):
        mask = arrays[f'{key}_mask'] > 0
        out[key] = arrays[key][:, mask]
    out['__keypoints_compressed__'] = True
    return out


def write_human_data(path, arrays=None, **overrides):
    """Save HumanData arrays (default :func:`human_data_arrays`)."""
    arrays = dict(human_data_arrays() if arrays is None else arrays)
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


def write_tsv(path, rows):
    """Tab-joined rows plus ``X.lineidx`` with each row's byte offset."""
    offsets, data = [], b''
    for row in rows:
        offsets.append(len(data))
        data += ('\t'.join(row) + '\n').encode()
    path.write_bytes(data)
    path.with_suffix('.lineidx').write_text(''.join(f'{o}\n'
                                                    for o in offsets))


def metro_person(i):
    """One person's label, METRO's fields: joints in the J24 order."""
    j2d = np.tile([[24., 32., 1.]], (24, 1))
    j2d[0] = [5. + i, 6., 1.]  # R_Ankle
    j3d = np.zeros((24, 4))
    j3d[:, 3] = 1.
    j3d[14, :3] = [0.1, 0.2, 3.]  # pelvis
    j3d[0, :3] = [0.5, 0.2, 3.]
    j3d[18, :3] = [0.1, -0.4, 3.]  # head, J14's last joint
    return dict(center=[24., 32.], scale=0.3, has_smpl=1, gender='m',
                pose=[0.1 * i] * 72, betas=[0.] * 10, has_2d_joints=1,
                has_3d_joints=1, **{'2d_joints': j2d.tolist(),
                                    '3d_joints': j3d.tolist()})


def write_metro(folder, count=3, people=None, img_keys=None,
                corrupt_row=None, linelist=None, with_hw=True):
    """A METRO dataset: ``train.yaml`` naming img, label, hw (and
    linelist) TSVs. Image i is flat grey at 40 * i."""
    people = people or [metro_person(i) for i in range(count)]
    keys = [f'img{i}' for i in range(count)]
    img_keys = img_keys or keys
    imgs, labels, hws = [], [], []
    for i in range(count):
        img = np.full((64, 48, 3), 40 * i, np.uint8)
        data = cv2.imencode('.jpg', img)[1].tobytes()
        if i == corrupt_row:
            data = data[:20]  # a truncated JPEG
        imgs.append([img_keys[i], base64.b64encode(data).decode()])
        labels.append([keys[i], json.dumps([people[i]])])
        hws.append([keys[i], json.dumps([{'height': 64, 'width': 48}])])
    write_tsv(folder / 'train.img.tsv', imgs)
    write_tsv(folder / 'train.label.tsv', labels)
    spec = 'img: train.img.tsv\nlabel: train.label.tsv\n'
    if with_hw:
        write_tsv(folder / 'train.hw.tsv', hws)
        spec += 'hw: train.hw.tsv\n'
    if linelist is not None:
        (folder / 'train.linelist.tsv').write_text(
            ''.join(f'{r}\t0\n' for r in linelist))
        spec += 'linelist: train.linelist.tsv\n'
    (folder / 'train.yaml').write_text(spec)
    return folder / 'train.yaml'
