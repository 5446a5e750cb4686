"""Writers of tiny annotation files in the real layouts, for the dataset
tests and the end-to-end tests: HumanData ``.npz`` (as MMHuman3D's
converters write it) and METRO's yaml + TSV + lineidx (as METRO's
``tsv_writer`` / ``generate_linelist_file`` / ``generate_hw_file`` write
them).
"""
import base64
import json
from pathlib import Path
from typing import Tuple

import cv2
import numpy as np
import yaml

from pointhmr_mm.datasets.conventions import (HUMAN_DATA_INDEX,
                                              HUMAN_DATA_NUM_KEYPOINTS,
                                              LSP14_FROM_HUMAN_DATA)

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
    """METRO's ``tsv_writer``: tab-joined rows, each ending in a newline,
    plus ``X.lineidx`` listing each row's byte offset."""
    offsets, data = [], b''
    for row in rows:
        offsets.append(len(data))
        data += ('\t'.join(str(v) for v in row) + '\n').encode()
    path = Path(path)
    path.write_bytes(data)
    path.with_suffix('.lineidx').write_text(''.join(f'{o}\n'
                                                    for o in offsets))
    return path


def write_linelist(path, lines):
    """A linelist through ``tsv_writer``: each entry of ``lines`` is a row
    number (plain, METRO's ``generate_linelist_file``) or a ``(source,
    row)`` pair (composite)."""
    return write_tsv(path, [line if isinstance(line, (tuple, list)) else
                            [line] for line in lines])


def encode_jpeg(img):
    """Base64 text of ``img`` as a JPEG, as METRO's tools store images."""
    return base64.b64encode(cv2.imencode('.jpg', img)[1]).decode()


def metro_person(i):
    """One person's label, METRO's fields: joints in the J24 order, stored
    (1, 24, C) as METRO's H36M/UP-3D tools write them."""
    j2d = np.tile([[24., 32., 1.]], (24, 1))
    j2d[0] = [5. + i, 6., 1.]  # R_Ankle
    j3d = np.zeros((24, 4))
    j3d[:, 3] = 1.
    j3d[14, :3] = [0.1, 0.2, 3.]  # pelvis
    j3d[0, :3] = [0.5, 0.2, 3.]
    j3d[18, :3] = [0.1, -0.4, 3.]  # head, J14's last joint
    return dict(center=[24., 32.], scale=0.3, has_smpl=1, gender='m',
                pose=[0.1 * i] * 72, betas=[0.] * 10, has_2d_joints=1,
                has_3d_joints=1, **{'2d_joints': j2d[None].tolist(),
                                    '3d_joints': j3d[None].tolist()})


def random_metro_person(rng, image_hw):
    """A label in METRO's layout for a person filling most of an image of
    ``image_hw``: joints inside the image, metres around a pelvis 3 m
    away, a small random SMPL pose and shape."""
    height, width = image_hw
    j2d = np.ones((24, 3))
    j2d[:, 0] = rng.uniform(0.2, 0.8, 24) * width
    j2d[:, 1] = rng.uniform(0.1, 0.9, 24) * height
    j3d = np.ones((24, 4))
    j3d[:, :3] = rng.normal(0., 0.3, (24, 3)) + [0., 0., 3.]
    pose = rng.normal(0., 0.2, 72)
    pose[0] = np.pi  # upright in the camera frame (y down)
    return dict(center=[width / 2., height / 2.],
                scale=1.2 * max(height, width) / 200., has_smpl=1,
                gender=['m', 'f'][int(rng.integers(2))],
                pose=pose.tolist(), betas=rng.normal(0., 0.5, 10).tolist(),
                has_2d_joints=1, has_3d_joints=1,
                **{'2d_joints': j2d[None].tolist(),
                   '3d_joints': j3d[None].tolist()})


def write_metro_source(folder, split, people, images, keys=None,
                       img_keys=None, extra_columns=0):
    """One METRO source: ``{split}.img.tsv``, ``.label.tsv``, ``.hw.tsv``
    and the plain ``{split}.linelist.tsv`` (all rows), each with its
    lineidx.

    Args:
        folder: Where the files go (created).
        split: File name stem, e.g. 'train'.
        people: One label dict per row.
        images: One (H, W, 3) uint8 image, or already encoded base64
            text, per row.
        keys: Row keys of label and hw rows (default 'images/{i:06d}.jpg').
        img_keys: Row keys of the image rows (default ``keys``).
        extra_columns: Columns between key and image in the image rows
            (older METRO files have them; the image is the last one).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    keys = keys or [f'images/{i:06d}.jpg' for i in range(len(people))]
    img_keys = img_keys or keys
    imgs, labels, hws = [], [], []
    for i, (person, img) in enumerate(zip(people, images)):
        data = img if isinstance(img, str) else encode_jpeg(img)
        imgs.append([img_keys[i]] + ['0'] * extra_columns + [data])
        labels.append([keys[i], json.dumps([person])])
        if not isinstance(img, str):
            hws.append([keys[i], json.dumps([{'height': img.shape[0],
                                              'width': img.shape[1]}])])
    write_tsv(folder / f'{split}.img.tsv', imgs)
    write_tsv(folder / f'{split}.label.tsv', labels)
    if len(hws) == len(people):
        write_tsv(folder / f'{split}.hw.tsv', hws)
    write_linelist(folder / f'{split}.linelist.tsv', range(len(people)))
    return {key: f'{split}.{key}.tsv' for key in ('img', 'label', 'hw')}


def write_metro(folder, count=3, people=None, img_keys=None,
                corrupt_row=None, linelist=None, with_hw=True,
                extra_columns=0):
    """A plain METRO dataset: ``train.yaml`` naming img, label, hw (and,
    when ``linelist`` lists row numbers, linelist) TSVs. Image i is flat
    grey at 40 * i, 64 x 48 px."""
    folder = Path(folder)
    people = people or [metro_person(i) for i in range(count)]
    keys = [f'img{i}' for i in range(count)]
    images = []
    for i in range(count):
        img = np.full((64, 48, 3), 40 * i, np.uint8)
        if i == corrupt_row:  # a truncated JPEG
            img = base64.b64encode(cv2.imencode('.jpg', img)[1].tobytes()
                                   [:20]).decode()
        images.append(img)
    names = write_metro_source(folder, 'train', people, images, keys=keys,
                               img_keys=img_keys,
                               extra_columns=extra_columns)
    if corrupt_row is not None:  # its hw row: the image's true size
        write_tsv(folder / 'train.hw.tsv', [
            [k, json.dumps([{'height': 64, 'width': 48}])] for k in keys])
    spec = dict(img=names['img'], label=names['label'])
    if with_hw:
        spec['hw'] = names['hw']
    else:
        for suffix in ('tsv', 'lineidx'):
            (folder / f'train.hw.{suffix}').unlink()
    if linelist is not None:
        write_linelist(folder / 'train.linelist.tsv', linelist)
        spec['linelist'] = 'train.linelist.tsv'
    (folder / 'train.yaml').write_text(yaml.safe_dump(spec))
    return folder / 'train.yaml'


def write_metro_composite_mixture(root: Path, num_sources: int = 3,
                                  rows_per_source: int = 2,
                                  image_hw: Tuple[int, int] = (64, 48),
                                  seed: int = 0) -> Path:
    """A composite METRO mixture laid out like
    ``Tax-H36m-coco40k-Muco-UP-Mpii``.

    ``root/source{k}/train.{img,label,hw,linelist}.tsv`` (+ lineidx) hold
    each source; ``root/mixture/train.yaml`` says ``composite: true`` and
    lists them relative to its folder (``../source{k}/...``);
    ``root/mixture/train.linelist.tsv`` lists every ``source<TAB>row`` pair
    once, shuffled. Labels have every METRO field (``center``, ``scale``,
    ``2d_joints``/``3d_joints`` (1, 24, C), ``pose``, ``betas``, ``has_*``,
    ``gender``); images are random JPEGs of ``image_hw``; row keys are
    ``source{k}/images/{r:06d}.jpg``.

    Returns:
        Path: the mixture's ``train.yaml``.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    lists = {key: [] for key in ('img', 'label', 'hw')}
    for k in range(num_sources):
        people = [random_metro_person(rng, image_hw)
                  for _ in range(rows_per_source)]
        images = [rng.integers(0, 256, (*image_hw, 3), dtype=np.uint8)
                  for _ in range(rows_per_source)]
        keys = [f'source{k}/images/{r:06d}.jpg'
                for r in range(rows_per_source)]
        names = write_metro_source(root / f'source{k}', 'train', people,
                                   images, keys=keys)
        for key, name in names.items():
            lists[key].append(f'../source{k}/{name}')
    pairs = [(k, r) for k in range(num_sources)
             for r in range(rows_per_source)]
    order = rng.permutation(len(pairs))
    mixture = root / 'mixture'
    mixture.mkdir(parents=True, exist_ok=True)
    write_linelist(mixture / 'train.linelist.tsv',
                   [pairs[i] for i in order])
    spec = dict(composite=True, img=lists['img'], label=lists['label'],
                hw=lists['hw'], linelist='train.linelist.tsv')
    (mixture / 'train.yaml').write_text(yaml.safe_dump(spec,
                                                       sort_keys=False))
    return mixture / 'train.yaml'


# Ground-truth names of an SPIN-style file (MMHuman3D's LSP names) and
# the OpenPose joints detected beside them.
SPIN_GT_JOINTS = tuple(names[0] for names in LSP14_FROM_HUMAN_DATA)
OPENPOSE_JOINTS = tuple(name for name in HUMAN_DATA_INDEX
                        if name.endswith('_openpose'))
# Sample i of write_human_data_split has this GT joint occluded
# (confidence 0) while its OpenPose twin is detected.
SPIN_OCCLUDED = ('right_wrist', 'left_ankle', 'neck_extra')
OPENPOSE_TWIN = dict(right_wrist='right_wrist_openpose',
                     left_ankle='left_ankle_openpose',
                     neck_extra='neck_openpose')


def write_human_data_split(root: Path, count: int = 3,
                           image_hw: Tuple[int, int] = (64, 48),
                           seed: int = 0) -> Tuple[Path, Path]:
    """A small HumanData split with real images, SPIN-style keypoints.

    ``root/images/seq_{i // 2:02d}/image_{i:05d}.jpg`` are random JPEGs of
    ``image_hw``; ``root/humandata_split.npz`` references them relative to
    ``root/images`` (use ``data_prefix=dict(img=str(img_dir))``). The file
    has what MMHuman3D's converters write: compressed ``keypoints2d`` with
    the 14 LSP joints and the 25 OpenPose joints in its mask, sample ``i``
    with GT joint ``SPIN_OCCLUDED[i % 3]`` occluded (confidence 0) while
    its OpenPose twin is detected (confidence 0.8); ``keypoints3d`` with
    the 14 LSP joints (metres, camera frame); boxes around the joints
    enlarged x1.2 as the converters do; ``smpl`` (body_pose (N, 23, 3),
    global_orient, betas, transl); ``meta.gender`` 'm'/'f'.

    Returns:
        (npz_path, img_dir)
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    height, width = image_hw
    img_dir = root / 'images'
    paths = []
    for i in range(count):
        rel = f'seq_{i // 2:02d}/image_{i:05d}.jpg'
        (img_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(img_dir / rel),
                    rng.integers(0, 256, (*image_hw, 3), dtype=np.uint8))
        paths.append(rel)
    gt = [HUMAN_DATA_INDEX[n] for n in SPIN_GT_JOINTS]
    op = [HUMAN_DATA_INDEX[n] for n in OPENPOSE_JOINTS]
    kp2d = np.zeros((count, HUMAN_DATA_NUM_KEYPOINTS, 3), np.float32)
    xy = rng.uniform([0.2 * width, 0.1 * height],
                     [0.8 * width, 0.9 * height], (count, len(gt), 2))
    kp2d[:, gt, :2], kp2d[:, gt, 2] = xy, 1.
    kp2d[:, op, :2] = rng.uniform(0., min(width, height), (count, len(op),
                                                           2))
    kp2d[:, op, 2] = rng.uniform(0.3, 0.9, (count, len(op)))
    for i in range(count):
        name = SPIN_OCCLUDED[i % len(SPIN_OCCLUDED)]
        kp2d[i, HUMAN_DATA_INDEX[name]] = 0.
        kp2d[i, HUMAN_DATA_INDEX[OPENPOSE_TWIN[name]]] = [
            *(xy[i, SPIN_GT_JOINTS.index(name)] + 1.5), 0.8]
    kp3d = np.zeros((count, HUMAN_DATA_NUM_KEYPOINTS, 4), np.float32)
    kp3d[:, gt, :3] = rng.normal(0., 0.3, (count, len(gt), 3)) + [0, 0, 3]
    kp3d[:, gt, 3] = 1.
    lo, hi = xy.min(1), xy.max(1)
    centre, size = (lo + hi) / 2, (hi - lo) * 1.2  # the converters' x1.2
    bbox = np.concatenate([centre - size / 2, size, np.ones((count, 1))],
                          axis=1).astype(np.float32)
    mask2d = np.zeros(HUMAN_DATA_NUM_KEYPOINTS, np.uint8)
    mask2d[gt + op] = 1
    mask3d = np.zeros(HUMAN_DATA_NUM_KEYPOINTS, np.uint8)
    mask3d[gt] = 1
    global_orient = rng.normal(0., 0.2, (count, 3))
    global_orient[:, 0] += np.pi
    arrays = compress(dict(
        image_path=np.array(paths), bbox_xywh=bbox,
        keypoints2d=kp2d, keypoints2d_mask=mask2d,
        keypoints3d=kp3d, keypoints3d_mask=mask3d,
        smpl=dict(body_pose=rng.normal(0., 0.2, (count, 23, 3)),
                  global_orient=global_orient,
                  betas=rng.normal(0., 0.5, (count, 10)),
                  transl=rng.normal(0., 0.1, (count, 3))),
        meta=dict(gender=np.array(['m', 'f'] * count)[:count]),
        config='pw3d'))
    npz_path = write_human_data(root / 'humandata_split.npz', arrays)
    return npz_path, img_dir
