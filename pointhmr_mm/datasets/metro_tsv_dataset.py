"""METRO's TSV datasets (what METRO, FastMETRO and PointHMR train on)."""
import base64
import json
import os
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import yaml

from pointhmr_mm.registry import DATASETS
from pointhmr_mm.utils.keypoints import J24_PELVIS, J24_TO_J14
from .base_mesh_dataset import BaseMeshDataset, check_shape
from .conventions import normalise_gender

# METRO's crop side is 200 px per unit of `scale`.
METRO_SCALE_PX = 200.
NUM_J24 = 24


class TSVFile:
    """Random access to the rows of ``X.tsv`` through ``X.lineidx``.

    The file handle is opened lazily and reopened in each process, so a
    DataLoader fork never shares one.
    """

    def __init__(self, path: str):
        self.path = path
        index = osp.splitext(path)[0] + '.lineidx'
        for p in (path, index):
            if not osp.isfile(p):
                raise FileNotFoundError(f'{p}: no such file')
        with open(index) as f:
            self.offsets = [int(line) for line in f if line.strip()]
        self._handle, self._pid = None, None

    def __len__(self) -> int:
        return len(self.offsets)

    def row(self, idx: int) -> List[str]:
        if self._handle is None or self._pid != os.getpid():
            self._handle, self._pid = open(self.path, 'rb'), os.getpid()
        self._handle.seek(self.offsets[idx])
        line = self._handle.readline().decode('utf-8').rstrip('\r\n')
        return line.split('\t')

    def __getstate__(self):
        state = dict(self.__dict__)
        state['_handle'] = state['_pid'] = None
        return state


@DATASETS.register_module()
class MetroTSVDataset(BaseMeshDataset):
    """A METRO yaml (keys ``img``, ``label``, optional ``hw`` and
    ``linelist``, paths relative to the yaml) over TSV files.

    Labels are parsed when a sample is read, images decoded by the
    pipeline (``img_bytes``).
    """

    def __init__(self, ann_file: str, **kwargs):
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{self.ann_file}: no such yaml')
        with open(self.ann_file) as f:
            spec = yaml.safe_load(f) or {}
        folder = osp.dirname(self.ann_file)
        for key in ('img', 'label'):
            if key not in spec:
                raise KeyError(f"{osp.basename(self.ann_file)} has no key "
                               f"'{key}'")
        self.img_tsv = TSVFile(osp.join(folder, spec['img']))
        self.label_tsv = TSVFile(osp.join(folder, spec['label']))
        if len(self.img_tsv) != len(self.label_tsv):
            raise ValueError(f'{spec["img"]} has {len(self.img_tsv)} rows '
                             f'but {spec["label"]} has '
                             f'{len(self.label_tsv)}')
        rows = range(len(self.label_tsv))
        if spec.get('linelist'):
            with open(osp.join(folder, spec['linelist'])) as f:
                rows = [int(line.split('\t')[0]) for line in f
                        if line.strip()]
        return [dict(row=r) for r in rows]

    def _label(self, row: int) -> Dict:
        key, text = self.label_tsv.row(row)[:2]
        where = f'{self.label_tsv.path} row {row}'
        people = json.loads(text)
        if not people:
            raise ValueError(f'{where}: no person in the label')
        person = people[0]
        j2d = np.asarray(person.get('2d_joints', np.zeros((NUM_J24, 3))),
                         np.float32).reshape(-1, 3)
        j3d = np.asarray(person.get('3d_joints', np.zeros((NUM_J24, 4))),
                         np.float32).reshape(-1, 4)
        check_shape(j2d, (NUM_J24, 3), '2d_joints', where)
        check_shape(j3d, (NUM_J24, 4), '3d_joints', where)
        pose = np.asarray(person.get('pose', np.zeros(72)), np.float32)
        betas = np.asarray(person.get('betas', np.zeros(10)), np.float32)
        for name, arr in (('2d_joints', j2d), ('3d_joints', j3d),
                          ('pose', pose), ('betas', betas)):
            if not np.isfinite(arr).all():
                raise ValueError(f"{where}: '{name}' has NaN/inf")
        if not person.get('has_2d_joints', 1):
            j2d[:, 2] = 0.
        if not person.get('has_3d_joints', 1):
            j3d[:, 3] = 0.
        j3d[:, :3] -= j3d[J24_PELVIS, :3]  # re-centred on the pelvis
        return dict(
            key=key,
            bbox_center=np.asarray(person['center'], np.float32),
            bbox_size=float(person['scale']) * METRO_SCALE_PX,
            keypoints_2d=j2d[list(J24_TO_J14)],
            keypoints_3d=j3d[list(J24_TO_J14)], smpl_pose=pose,
            smpl_betas=betas[:10],
            has_smpl=float(person.get('has_smpl', 0)),
            gender=normalise_gender(person.get('gender', 'neutral')))

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        row = info.pop('row')
        label = self._label(row)
        img_key, encoded = self.img_tsv.row(row)[:2]
        if img_key != label.pop('key'):
            raise ValueError(f'{self.img_tsv.path} row {row} has key '
                             f'{img_key!r}, its label row another')
        info.update(label, img_path=f'{self.img_tsv.path}#{row}',
                    img_bytes=base64.b64decode(encoded))
        return info
