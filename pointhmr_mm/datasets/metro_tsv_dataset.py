"""METRO's TSV datasets, what METRO, FastMETRO and PointHMR train on.

A yaml names the TSV files. Each ``X.tsv`` has ``X.lineidx`` beside it
with the byte offset of every row, so a row is one seek and one line read.

- ``img``: rows ``key \\t ... \\t base64-jpeg``; the image is the **last**
  column (older files carry more than two).
- ``label``: rows ``key \\t json list of people`` (``center``, ``scale``,
  ``2d_joints``, ``3d_joints``, ``pose``, ``betas``, ``has_*``,
  ``gender``).
- ``hw`` (optional): rows ``key \\t [{"height": h, "width": w}]``, or
  ``key \\t "h w"``.
- ``linelist`` (optional): the rows to use, in order.

Two layouts, as METRO's ``tsv_file.py`` / ``human_mesh_tsv.py`` read them:

- plain: ``img``, ``label``, ``hw``, ``linelist`` are single files, looked
  up as given, then relative to the yaml's folder. Each linelist line is
  one row number (METRO's ``generate_linelist_file``). Without a linelist
  every row is used.
- composite (``composite: true``, e.g. the training mixture
  ``Tax-H36m-coco40k-Muco-UP-Mpii/train.yaml``): ``img``, ``label`` and
  ``hw`` are lists of TSV files, one per source (or the name of a text file
  listing them, one a line), relative to the yaml's folder. The linelist
  is required; each line is ``source_index \\t row``.
"""
import base64
import binascii
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import yaml

from pointhmr_mm.registry import DATASETS
from pointhmr_mm.utils.constants import NUM_BETAS, NUM_POSE
from pointhmr_mm.utils.keypoints import J24_PELVIS, J24_TO_J14
from .base_mesh_dataset import BaseMeshDataset, check_shape

# METRO's crop side is 200 px per unit of `scale`.
METRO_SCALE_PX = 200.
NUM_J24 = 24
TSV_KEYS = ('img', 'label', 'hw')


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
                # an array, not a list: workers share it copy-on-write
                self.offsets = np.array(f.read().split(), dtype=np.int64)
            except ValueError as err:
                raise ValueError(f'{self.index_path}: not a list of byte '
                                 f'offsets ({err})') from None
        size = osp.getsize(path)
        if len(self.offsets) and self.offsets.max() >= size:
            raise ValueError(f'{self.index_path} points past the end of '
                             f'{path} ({self.offsets.max()} >= {size} '
                             'bytes); is it stale?')
        self._handle, self._pid = None, None

    def __len__(self) -> int:
        return len(self.offsets)

    def row(self, idx: int) -> List[str]:
        """Tab-separated fields of row ``idx``, stripped as METRO does."""
        if not 0 <= idx < len(self.offsets):
            raise IndexError(f'{self.path}: row {idx} out of range '
                             f'(0..{len(self.offsets) - 1})')
        if self._handle is None or self._pid != os.getpid():
            self._handle, self._pid = open(self.path, 'rb'), os.getpid()
        self._handle.seek(int(self.offsets[idx]))
        line = self._handle.readline().decode('utf-8')
        return [field.strip() for field in line.split('\t')]

    def __getstate__(self):
        state = dict(self.__dict__)
        state['_handle'] = state['_pid'] = None  # reopened where unpickled
        return state


def _find(name: str, folder: str, where: str) -> str:
    """METRO's ``find_file_path_in_yaml``: as given, else in ``folder``."""
    for path in (name, osp.join(folder, name)):
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'{where}: file {name} not found (looked in '
                            f'{osp.abspath(folder or ".")})')


def _int_fields(line: str, count: int) -> Optional[Tuple[int, ...]]:
    """The line's tab-separated fields as ints, or None unless there are
    exactly ``count`` integer fields."""
    fields = line.strip().split('\t')
    if len(fields) != count:
        return None
    try:
        return tuple(int(f) for f in fields)
    except ValueError:
        return None


def parse_hw(fields: Sequence[str], where: str) -> Tuple[int, int]:
    """(height, width) from an hw row: ``[{"height", "width"}]`` JSON, or
    ``"h w"`` (both formats METRO reads)."""
    if len(fields) < 2:
        raise ValueError(f'{where}: expected "key<TAB>height/width"')
    try:
        value = json.loads(fields[1])
        if isinstance(value, list):
            value = value[0]
        return int(value['height']), int(value['width'])
    except (ValueError, KeyError, IndexError, TypeError):
        pass
    parts = fields[1].split()
    try:
        height, width = (int(p) for p in parts)
        return height, width
    except ValueError:
        raise ValueError(f'{where}: {fields[1]!r} is neither '
                         '[{"height": h, "width": w}] nor "h w"') from None


@DATASETS.register_module()
class MetroTSVDataset(BaseMeshDataset):
    """A METRO yaml (plain or composite) over TSV files.

    The row list (the ``linelist``) is read when the dataset is built; a
    row's label is parsed when the sample is read and its image is handed
    to the pipeline as ``img_bytes``. Only the first person of a label row
    is used, as in METRO. Sample ``i`` is linelist line ``i``.

    Args:
        ann_file: The yaml (see the module docstring for both layouts).
        **kwargs: :class:`BaseMeshDataset` arguments.
    """

    def __init__(self, ann_file: str, **kwargs):
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Open the TSVs and list the (source, row) pairs to use."""
        spec = self._spec()
        folder = osp.dirname(self.ann_file)
        composite = bool(spec.get('composite', False))
        for key in ('img', 'label'):
            if not spec.get(key):
                raise KeyError(f"{self.ann_file} has no key '{key}'")
        names = {key: self._names(spec, key, composite, folder)
                 for key in TSV_KEYS if spec.get(key) is not None}
        count = len(names['img'])
        for key, files in names.items():
            if len(files) != count:
                raise ValueError(f"{self.ann_file}: '{key}' lists "
                                 f"{len(files)} files but 'img' lists "
                                 f'{count}')
        self.tsvs = {key: [TSVFile(f) for f in files]
                     for key, files in names.items()}
        self._check_row_counts()
        linelist = spec.get('linelist')
        if composite and not linelist:
            raise KeyError(f"{self.ann_file}: a composite yaml needs "
                           "'linelist' (lines 'source_index<TAB>row')")
        if linelist is not None and not isinstance(linelist, str):
            raise ValueError(f"{self.ann_file}: 'linelist' must be a file "
                             f'name, got {linelist!r}')
        if linelist:
            path = _find(linelist, folder, f"{self.ann_file}: 'linelist'")
            pairs = self._linelist(path, composite)
        else:
            pairs = [(0, r) for r in range(len(self.tsvs['img'][0]))]
        return [dict(source=s, row=r,
                     img_path=f"{self.tsvs['img'][s].path}#{r}")
                for s, r in pairs]

    def _spec(self) -> dict:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{self.ann_file}: no such yaml')
        with open(self.ann_file) as f:
            try:
                spec = yaml.safe_load(f) or {}
            except yaml.YAMLError as err:
                raise ValueError(f'{self.ann_file}: not a yaml ({err})') \
                    from None
        if not isinstance(spec, dict):
            raise ValueError(f'{self.ann_file}: expected a mapping of TSV '
                             'files')
        return spec

    def _names(self, spec: dict, key: str, composite: bool,
               folder: str) -> List[str]:
        """The resolved TSV path(s) of yaml key ``key``."""
        value, where = spec[key], f"{self.ann_file}: '{key}'"
        if not composite:
            if isinstance(value, (list, tuple)):
                raise ValueError(f'{where} is a list of {len(value)} files; '
                                 'a yaml listing several sources needs '
                                 "'composite: true'")
            if not isinstance(value, str):
                raise ValueError(f'{where} must be a file name, got '
                                 f'{value!r}')
            return [_find(value, folder, where)]
        if isinstance(value, str):  # METRO's list file, one TSV a line
            with open(_find(value, folder, where)) as f:
                value = [line.strip() for line in f if line.strip()]
        if not isinstance(value, (list, tuple)) or not value or not all(
                isinstance(v, str) for v in value):
            raise ValueError(f'{where} must list TSV files in a composite '
                             f'yaml, got {value!r}')
        paths = []
        for i, name in enumerate(value):
            # METRO's CompositeTSVFile joins every entry with the yaml's
            # folder (an absolute entry stays as it is)
            path = osp.join(folder, name)
            if not osp.isfile(path):
                raise FileNotFoundError(f'{where}[{i}]: file {name} not '
                                        f'found (looked for {path})')
            paths.append(path)
        return paths

    def _check_row_counts(self) -> None:
        """A source's label and hw rows are indexed like its image rows."""
        for key in ('label', 'hw'):
            for s, tsv in enumerate(self.tsvs.get(key, [])):
                img = self.tsvs['img'][s]
                if len(tsv) != len(img):
                    raise ValueError(
                        f"{self.ann_file}: '{key}' file {tsv.path} has "
                        f'{len(tsv)} rows but {img.path} has {len(img)}')

    def _linelist(self, path: str, composite: bool) -> List[Tuple[int, int]]:
        """(source, row) pairs of the linelist, in its order."""
        pairs = []
        with open(path) as f:
            for num, line in enumerate(f):
                if not line.strip():
                    continue
                where = f'{self.ann_file}: linelist {path} line {num}'
                fields = _int_fields(line, 2 if composite else 1)
                if fields is None:
                    if not composite and _int_fields(line, 2) is not None:
                        raise ValueError(
                            f'{where}: {line.strip()!r} is a composite '
                            "linelist line ('source_index<TAB>row'); the "
                            "yaml needs 'composite: true'")
                    expected = ('"source_index<TAB>row"' if composite else
                                'one row number')
                    raise ValueError(f'{where}: {line.strip()!r} is not '
                                     f'{expected}')
                source, row = fields if composite else (0, fields[0])
                if not 0 <= source < len(self.tsvs['img']):
                    raise ValueError(
                        f"{where}: source {source} is outside 'img' "
                        f"({len(self.tsvs['img'])} files)")
                img = self.tsvs['img'][source]
                if not 0 <= row < len(img):
                    raise ValueError(f'{where}: row {row} is outside '
                                     f'{img.path} ({len(img)} rows)')
                pairs.append((source, row))
        return pairs

    def get_data_info(self, idx: int) -> dict:
        """The row's labels, ``hw`` (height, width) when the yaml has an hw
        TSV, and the encoded image (``img_bytes``)."""
        info = super().get_data_info(idx)
        source, row = info.pop('source'), info.pop('row')
        label_key, label = self._label(source, row)
        img = self.tsvs['img'][source]
        where = f"{self.ann_file}: 'img' {img.path} row {row}"
        fields = img.row(row)
        if len(fields) < 2:
            raise ValueError(f'{where}: expected "key<TAB>base64 image"')
        if fields[0] != label_key:
            label_tsv = self.tsvs['label'][source]
            raise ValueError(f'{where} has key {fields[0]!r} but '
                             f'{label_tsv.path} row {row} has '
                             f'{label_key!r}')
        try:  # the last column, as METRO reads it
            img_bytes = base64.b64decode(fields[-1], validate=True)
        except binascii.Error as err:
            raise ValueError(f'{where}: image (last column) is not base64 '
                             f'({err})') from None
        if 'hw' in self.tsvs:
            hw = self.tsvs['hw'][source]
            info['hw'] = parse_hw(
                hw.row(row), f"{self.ann_file}: 'hw' {hw.path} row {row}")
        info.update(label, img_bytes=img_bytes)
        return info

    def _label(self, source: int, row: int):
        """Parse a label row: (key, transform-ready label dict)."""
        tsv = self.tsvs['label'][source]
        where = f"{self.ann_file}: 'label' {tsv.path} row {row}"
        fields = tsv.row(row)
        if len(fields) < 2:
            raise ValueError(f'{where}: expected "key<TAB>json"')
        try:
            people = json.loads(fields[1])
        except json.JSONDecodeError as err:
            raise ValueError(f'{where}: label is not JSON ({err})') from None
        if isinstance(people, dict):
            people = [people]
        if not isinstance(people, list) or not people or not isinstance(
                people[0], dict):
            raise ValueError(f'{where}: expected a JSON list of people '
                             f'(dicts), got {fields[1][:80]!r}')
        return fields[0], self._person(people[0], where)

    @staticmethod
    def _array(person: Dict, key: str, shape, where: str,
               default: Optional[np.ndarray] = None) -> np.ndarray:
        if key not in person:
            if default is None:
                raise KeyError(f"{where}: label has no '{key}'")
            return default
        try:
            arr = np.asarray(person[key], dtype=np.float32)
        except (ValueError, TypeError):
            raise ValueError(f"{where}: '{key}' is not numeric") from None
        if len(shape) == 1:
            arr = arr.reshape(-1)
        elif arr.size % shape[-1] == 0:
            # METRO's tools store joints as (1, 24, C) or (24, C)
            arr = arr.reshape(-1, shape[-1])
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
        # METRO reads a missing gender as 'none'
        gender = self.gender(person.get('gender', 'none'),
                             f"{where}: 'gender'")
        return dict(
            bbox_center=center,
            bbox_size=float(scale.max()) * METRO_SCALE_PX,
            keypoints_2d=j2d[list(J24_TO_J14)],
            keypoints_3d=j3d[list(J24_TO_J14)], smpl_pose=pose,
            smpl_betas=betas[:NUM_BETAS], has_smpl=float(has_smpl),
            gender=gender)
