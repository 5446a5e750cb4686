"""METRO's TSV datasets, what METRO, FastMETRO and PointHMR train on.

A yaml names the TSV files: ``img`` (rows ``key \\t base64-jpeg``),
``label`` (rows ``key \\t json list of people``), optional ``hw`` (rows
``key \\t image height/width``) and ``linelist`` (the row numbers to use).
Each ``X.tsv`` has ``X.lineidx`` beside it with the byte offset of every
row, so a row is one seek and one line read.
"""
import base64
import binascii
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
NUM_POSE = 72
NUM_BETAS = 10


class TSVFile:
    """Random access to the rows of ``X.tsv`` through ``X.lineidx``.

    The file is opened on first use and reopened in every new process, so
    DataLoader workers forked from a process that already read rows never
    share (and move) one file offset.

    Args:
        path: The ``.tsv`` file.
    """

    def __init__(self, path: str):
        self.path = path
        self.index_path = osp.splitext(path)[0] + '.lineidx'
        for p in (path, self.index_path):
            if not osp.isfile(p):
                raise FileNotFoundError(f'{p}: no such file')
        with open(self.index_path) as f:
            try:
                self.offsets = [int(line) for line in f if line.strip()]
            except ValueError as err:
                raise ValueError(f'{self.index_path}: not a list of byte '
                                 f'offsets ({err})') from None
        size = osp.getsize(path)
        if self.offsets and max(self.offsets) >= size:
            raise ValueError(f'{self.index_path} points past the end of '
                             f'{path} ({max(self.offsets)} >= {size} bytes);'
                             ' is it stale?')
        self._handle, self._pid = None, None

    def __len__(self) -> int:
        return len(self.offsets)

    def row(self, idx: int) -> List[str]:
        """Tab-separated fields of row ``idx``."""
        if not 0 <= idx < len(self.offsets):
            raise IndexError(f'{self.path}: row {idx} out of range '
                             f'(0..{len(self.offsets) - 1})')
        if self._handle is None or self._pid != os.getpid():
            self._handle, self._pid = open(self.path, 'rb'), os.getpid()
        self._handle.seek(self.offsets[idx])
        line = self._handle.readline().decode('utf-8').rstrip('\r\n')
        return line.split('\t')

    def __getstate__(self):
        state = dict(self.__dict__)
        state['_handle'] = state['_pid'] = None  # reopened where unpickled
        return state


def _resolve(folder: str, name: str, yaml_file: str, key: str) -> str:
    """METRO's lookup: the name as given, else relative to the yaml."""
    for path in (name, osp.join(folder, name)):
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f"{yaml_file}: '{key}' file {name} not found "
                            f'(looked in {folder or "."})')


@DATASETS.register_module()
class MetroTSVDataset(BaseMeshDataset):
    """A METRO yaml over TSV files.

    The row list (and the ``linelist``) is read when the dataset is built;
    a row's label is parsed when the sample is read and its image is
    handed to the pipeline as ``img_bytes``. Only the first person of a
    label row is used, as in METRO.

    Args:
        ann_file: The yaml, with keys ``img``, ``label`` and optionally
            ``hw`` and ``linelist``.
        **kwargs: :class:`BaseMeshDataset` arguments.
    """

    def __init__(self, ann_file: str, **kwargs):
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Open the TSVs and list the rows to use."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{self.ann_file}: no such yaml')
        with open(self.ann_file) as f:
            spec = yaml.safe_load(f) or {}
        if not isinstance(spec, dict):
            raise ValueError(f'{self.ann_file}: expected a mapping of TSV '
                             'files')
        for key in ('img', 'label'):
            if not spec.get(key):
                raise KeyError(f"{self.ann_file} has no key '{key}'")
        folder = osp.dirname(self.ann_file)
        files = {key: _resolve(folder, spec[key], self.ann_file, key)
                 for key in ('img', 'label', 'hw', 'linelist')
                 if spec.get(key)}
        self.img_tsv = TSVFile(files['img'])
        self.label_tsv = TSVFile(files['label'])
        tsvs = [self.img_tsv, self.label_tsv]
        if 'hw' in files:
            tsvs.append(TSVFile(files['hw']))
        for tsv in tsvs[1:]:
            if len(tsv) != len(self.img_tsv):
                raise ValueError(f'{tsv.path} has {len(tsv)} rows but '
                                 f'{self.img_tsv.path} has '
                                 f'{len(self.img_tsv)}')
        rows = list(range(len(self.img_tsv)))
        if 'linelist' in files:
            rows = self._linelist(files['linelist'])
        return [dict(row=r, img_path=f'{self.img_tsv.path}#{r}')
                for r in rows]

    def _linelist(self, path: str) -> List[int]:
        """Row numbers listed (first field of each line) in ``path``."""
        rows = []
        with open(path) as f:
            for num, line in enumerate(f):
                if not line.strip():
                    continue
                try:
                    row = int(line.split('\t')[0])
                except ValueError:
                    raise ValueError(f'{path} line {num}: {line.strip()!r} '
                                     'is not a row number') from None
                if not 0 <= row < len(self.img_tsv):
                    raise ValueError(f'{path} line {num}: row {row} is '
                                     f'outside {self.img_tsv.path} '
                                     f'({len(self.img_tsv)} rows)')
                rows.append(row)
        return rows

    def get_data_info(self, idx: int) -> dict:
        """The row's labels plus the encoded image (``img_bytes``)."""
        info = super().get_data_info(idx)
        row = info.pop('row')
        label_key, label = self._label(row)
        fields = self.img_tsv.row(row)
        if len(fields) < 2:
            raise ValueError(f'{self.img_tsv.path} row {row}: expected '
                             '"key<TAB>base64 image"')
        if fields[0] != label_key:
            raise ValueError(f'{self.img_tsv.path} row {row} has key '
                             f'{fields[0]!r} but {self.label_tsv.path} row '
                             f'{row} has {label_key!r}')
        try:
            img_bytes = base64.b64decode(fields[1], validate=True)
        except binascii.Error as err:
            raise ValueError(f'{self.img_tsv.path} row {row}: image is not '
                             f'base64 ({err})') from None
        info.update(label, img_bytes=img_bytes)
        return info

    def _label(self, row: int):
        """Parse label row ``row``: (key, transform-ready label dict)."""
        where = f'{self.label_tsv.path} row {row}'
        fields = self.label_tsv.row(row)
        if len(fields) < 2:
            raise ValueError(f'{where}: expected "key<TAB>json"')
        try:
            people = json.loads(fields[1])
        except json.JSONDecodeError as err:
            raise ValueError(f'{where}: label is not JSON ({err})') from None
        if isinstance(people, dict):
            people = [people]
        if not people:
            raise ValueError(f'{where}: no person in the label')
        return fields[0], self._person(people[0], where)

    @staticmethod
    def _array(person: Dict, key: str, shape, where: str,
               default: Optional[np.ndarray] = None) -> np.ndarray:
        if key not in person:
            if default is None:
                raise KeyError(f"{where}: label has no '{key}'")
            return default
        arr = np.asarray(person[key], dtype=np.float32)
        arr = arr.reshape(-1, shape[-1]) if len(shape) == 2 else \
            arr.reshape(-1)
        check_shape(arr, shape, key, where)
        if not np.isfinite(arr).all():
            raise ValueError(f"{where}: '{key}' has NaN/inf")
        return arr

    def _person(self, person: Dict, where: str) -> Dict:
        has_2d = bool(person.get('has_2d_joints', '2d_joints' in person))
        has_3d = bool(person.get('has_3d_joints', '3d_joints' in person))
        has_smpl = bool(person.get('has_smpl', 0))
        j2d = self._array(person, '2d_joints', (NUM_J24, 3), where,
                          None if has_2d else np.zeros((NUM_J24, 3),
                                                       np.float32))
        j3d = self._array(person, '3d_joints', (NUM_J24, 4), where,
                          None if has_3d else np.zeros((NUM_J24, 4),
                                                       np.float32))
        pose = self._array(person, 'pose', (NUM_POSE, ), where,
                           None if has_smpl else np.zeros(NUM_POSE,
                                                          np.float32))
        betas = self._array(person, 'betas', (None, ), where,
                            None if has_smpl else np.zeros(NUM_BETAS,
                                                           np.float32))
        center = self._array(person, 'center', (2, ), where)
        scale = self._array(person, 'scale', (None, ), where)
        if not scale.size or scale.max() <= 0:
            raise ValueError(f"{where}: 'scale' must be positive, got "
                             f'{scale.tolist()}')
        if not has_2d:
            j2d[:, 2] = 0.
        if not has_3d:
            j3d[:, 3] = 0.
        j3d[:, :3] -= j3d[J24_PELVIS, :3]  # METRO re-centres on the pelvis
        betas = np.pad(betas, (0, max(0, NUM_BETAS - len(betas))))
        try:
            gender = normalise_gender(person.get('gender', 'neutral'))
        except ValueError as err:
            raise ValueError(f'{where}: {err}') from None
        return dict(
            bbox_center=center,
            bbox_size=float(scale.max()) * METRO_SCALE_PX,
            keypoints_2d=j2d[list(J24_TO_J14)],
            keypoints_3d=j3d[list(J24_TO_J14)], smpl_pose=pose,
            smpl_betas=betas[:NUM_BETAS], has_smpl=float(has_smpl),
            gender=gender)
