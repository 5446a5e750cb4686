"""Check every file a config needs, and report all problems at once.

This is the library side of ``tools/misc/check_data.py``. Missing or
misplaced files are the commonest trouble with this family of models, and
a run stops at the first one; the doctor instead builds each part on its
own (body models, joint regressors, mesh sampler, the whole model, every
dataset), reads a few samples of each dataset, and collects one problem per
thing that is wrong, each naming the config key, the file, what is wrong and
the README section that says where the file comes from.
"""
import copy
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np
from mmengine.config import Config
from tqdm import tqdm

from pointhmr_mm.utils.config_keys import walk_dotted

# Where the README says each kind of file comes from.
RECIPE = 'see README "Use the released PointHMR model"'
HINT_BODY = (f'{RECIPE}, step 1 (body model); without an SMPL licence, '
             'python tools/make_body_model.py --from embedded '
             'data/body_models writes the licence-free Anny body '
             '(SMPL\'s sizes and 1723/431 hierarchy)')
HINT_DATA = f'{RECIPE}, step 2 (datasets)'
HINT_PRETRAINED = ('pretrained weights named by an init_cfg; see the '
                   "config's comment for where they come from")
HINT_GENERATED = ('made by tools/train.py on the first run of this config '
                  '(its quickstart_assets)')
# Config keys whose string value is a file or folder the run reads.
PATH_KEYS = ('filename', 'model_path', 'ann_file')
PATH_DICT_KEYS = ('joint_regressors', 'data_prefix')
SPLITS = ('train', 'val', 'test')
# Datasets longer than this get a progress bar while they are read.
PROGRESS_MIN_SAMPLES = 50
# Sample errors listed per dataset before the rest are only counted.
MAX_SAMPLE_PROBLEMS = 5


@dataclass
class Problem:
    """One thing wrong: the config key, the file, what and where to look."""
    where: str
    file: str
    what: str
    hint: str

    def __str__(self) -> str:
        return f'[{self.where}] {self.file}: {self.what}\n    -> {self.hint}'


def iter_config_paths(node, prefix: str = '',
                      data_root: Optional[str] = None
                      ) -> Iterator[Tuple[str, str]]:
    """(dotted config key, path) for every file the config names.

    Dataset paths are joined to the dataset's ``data_root`` as mmengine's
    ``BaseDataset`` does.
    """
    if isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            yield from iter_config_paths(item, f'{prefix}{i}.', data_root)
        return
    if not isinstance(node, dict):
        return
    # only a component's data_root counts (a top-level config variable of
    # that name is just a value other keys were built from)
    root = node.get('data_root', data_root) if 'type' in node else data_root

    def resolve(path: str) -> str:
        return osp.join(root, path) if root and not osp.isabs(path) else path

    for key, value in node.items():
        if key in PATH_KEYS and isinstance(value, str) and value:
            yield f'{prefix}{key}', resolve(value)
        elif key in PATH_DICT_KEYS and isinstance(value, dict):
            for name, path in value.items():
                if isinstance(path, str) and path:
                    yield f'{prefix}{key}.{name}', resolve(path)
        elif key == 'init_cfg' and isinstance(value, dict) and isinstance(
                value.get('checkpoint'), str):
            yield f'{prefix}{key}.checkpoint', value['checkpoint']
        elif key == 'init_cfg' and isinstance(value, list):
            # e.g. [Kaiming, Constant, PretrainedIfExists(checkpoint=...)]
            for i, init in enumerate(value):
                if isinstance(init, dict) and isinstance(
                        init.get('checkpoint'), str):
                    yield f'{prefix}{key}.{i}.checkpoint', init['checkpoint']
        else:
            yield from iter_config_paths(value, f'{prefix}{key}.', root)


def _set_on_error_raise(node) -> None:
    """Every dataset in ``node`` raises on a broken sample instead of
    skipping it: the doctor must see the error."""
    if isinstance(node, list):
        for item in node:
            _set_on_error_raise(item)
    elif isinstance(node, dict):
        if 'on_error' in node:
            node['on_error'] = 'raise'
        for value in node.values():
            _set_on_error_raise(value)


class DataDoctor:
    """Finds every problem with the files of ``cfg``.

    Args:
        cfg: A loaded config (``default_scope='pointhmr_mm'``).
        num_samples: Samples read (through the pipeline, images
            included) per dataset, spread evenly over it.
        read_all: Read every sample instead (slow on large datasets;
            shows a progress bar).
        log: Where progress lines go.
    """

    def __init__(self, cfg: Config, num_samples: int = 3,
                 read_all: bool = False, log: Callable[[str], None] = print):
        if num_samples < 1:
            raise ValueError(f'num_samples must be >= 1, got {num_samples}')
        self.cfg = cfg
        self.num_samples = num_samples
        self.read_all = read_all
        self.log = log
        self.problems: List[Problem] = []
        self.missing = set()  # config keys whose file is missing
        self.checked_datasets = set()
        self.num_body_vertices = None
        assets = cfg.get('quickstart_assets') or {}
        self.generated_root = assets.get('root')

    def hint(self, path: str, default: str) -> str:
        if self.generated_root and osp.normpath(path).startswith(
                osp.normpath(self.generated_root)):
            return HINT_GENERATED
        return default

    def add(self, where: str, file: str, what: str, hint: str) -> None:
        self.problems.append(Problem(where, file, what, self.hint(file, hint)))

    def run(self) -> List[Problem]:
        """All checks; returns (and keeps in ``problems``) what failed."""
        self.check_paths()
        model_ok = self.check_body_models() & self.check_mesh_sampler()
        if model_ok:
            self.check_model()
        for split in SPLITS:
            self.check_dataset(split)
        return self.problems

    # ------------------------------------------------------------------ #
    def check_paths(self) -> None:
        """Every file the config names exists."""
        reported = set()
        for key, path in iter_config_paths(self.cfg.to_dict()):
            if not key.startswith(('model.', 'train_dataloader.',
                                   'val_dataloader.', 'test_dataloader.')):
                continue
            if not osp.exists(path):
                if self._optional_weights(key, path):
                    continue
                self.missing.add(key)
                if path in reported:  # e.g. test_dataloader = val's
                    continue
                reported.add(path)
                hint = self.dataset_hint(key) if 'dataloader' in key \
                    else HINT_BODY
                self.add(key, path, 'missing', hint)

    def dataset_hint(self, key: str) -> str:
        """The ``DOWNLOAD_HINT`` of the innermost dataset class on the way
        to the dotted config ``key`` (where its files come from), else the
        README's."""
        from pointhmr_mm.registry import DATASETS
        hint = HINT_DATA
        for _, node in walk_dotted(self.cfg.to_dict(), key):
            if isinstance(node, dict) and isinstance(node.get('type'), str):
                cls = DATASETS.get(node['type'])
                hint = getattr(cls, 'DOWNLOAD_HINT', None) or hint
        return hint

    def report_supervision(self, split: str, file: str, dataset) -> None:
        """Log which losses each (inner) dataset's labels can drive
        (``BaseMeshDataset.supervision``); a training set's gaps are
        notes, since a mixture may rightly lack some labels in one part."""
        inner = getattr(dataset, 'datasets', None)
        if not hasattr(dataset, 'supervision') and inner:
            for part in inner:
                self.report_supervision(split, str(getattr(
                    part, 'ann_file', type(part).__name__)), part)
            return
        if not hasattr(dataset, 'supervision'):
            return
        found = dataset.supervision()
        have = [k for k, ok in found.items() if ok]
        lack = [k for k, ok in found.items() if not ok]
        name = getattr(dataset, 'dataset_name', type(dataset).__name__)
        text = (f'{split} dataset {name} ({file}) supervises: '
                f'{", ".join(have) or "nothing"}')
        if lack and split == 'train':
            self.log(f'note     {text}; no labels for {", ".join(lack)}, '
                     'so those losses get nothing from it')
        else:
            self.log(f'ok       {text}')

    def _optional_weights(self, key: str, path: str) -> bool:
        """Log a missing ``PretrainedIfExists`` checkpoint (training then
        starts from random weights; evaluating a checkpoint does not need
        it) with its ``source``, instead of counting it as a problem."""
        if '.init_cfg.' not in key:
            return False
        node = self.cfg.to_dict()
        for part in key.split('.')[:-1]:  # walk to the init_cfg entry
            if isinstance(node, list) and part.isdigit():
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return False
        if not isinstance(node, dict) or str(node.get('type')).split(
                '.')[-1] != 'PretrainedIfExists':
            return False
        self.log(f'note     [{key}] {path}: missing; training would start '
                 'from random weights\n    -> '
                 f"{node.get('source') or HINT_PRETRAINED}")
        return True

    def _missing_under(self, prefix: str) -> bool:
        return any(key.startswith(prefix) for key in self.missing)

    def _try(self, where: str, file: str, hint: str, build: Callable):
        """``build()``, or None with its error recorded as a problem."""
        try:
            return build()
        except Exception as err:  # report every failure, not just one
            self.add(where, file, f'{type(err).__name__}: {err}', hint)
            return None

    def check_body_models(self) -> bool:
        from pointhmr_mm.registry import MODELS
        targets = self.cfg.model.get('mesh_targets') or {}
        body = targets.get('body_model')
        key = 'model.mesh_targets.body_model'
        if body is None or self._missing_under(key):
            return body is None
        genders = (('neutral', 'male', 'female')
                   if targets.get('gendered_eval') else ('neutral', ))
        ok = True
        for gender in genders:
            cfg = copy.deepcopy(body.to_dict() if hasattr(body, 'to_dict')
                                else dict(body))
            cfg['gender'] = gender
            model = self._try(key, str(body.get('model_path')),
                              HINT_BODY, lambda: MODELS.build(cfg))
            ok &= model is not None
            if model is not None:
                self.num_body_vertices = model.smpl.v_template.shape[0]
                self.log(f'ok       body model ({gender}): '
                         f'{model.model_file} '
                         f'({self.num_body_vertices} vertices)')
        return ok

    def check_mesh_sampler(self) -> bool:
        from pointhmr_mm.registry import TASK_UTILS
        targets = self.cfg.model.get('mesh_targets') or {}
        cfg = targets.get('mesh_sampler')
        if cfg is None:
            return True
        key = 'model.mesh_targets.mesh_sampler'
        if self._missing_under(key):
            return False
        file = str(cfg.get('filename'))
        sampler = self._try(key, file, HINT_BODY,
                            lambda: TASK_UTILS.build(copy.deepcopy(cfg)))
        if sampler is None:
            return False
        levels = sampler.num_vertices
        self.log(f'ok       mesh sampler: {file} '
                 f'({" -> ".join(map(str, levels))} vertices)')
        ok = True
        body_vertices = self.num_body_vertices
        if body_vertices is not None and levels[0] != body_vertices:
            self.add(f'{key}.filename', file,
                     f'its full level has {levels[0]} vertices, the body '
                     f'model has {body_vertices}: the two files belong to '
                     'different meshes', HINT_BODY)
            ok = False
        expected = targets.get('num_vertices')
        if expected is not None and levels[-1] != expected:
            self.add(f'{key}.filename', file,
                     f'its coarsest level has {levels[-1]} vertices, '
                     f'model.mesh_targets.num_vertices is {expected}',
                     HINT_BODY)
            ok = False
        return ok

    def check_model(self) -> None:
        from pointhmr_mm.registry import MODELS
        model = self._try('model', self.cfg.filename or '<config>',
                          HINT_BODY,
                          lambda: MODELS.build(copy.deepcopy(self.cfg.model)))
        if model is not None:
            params = sum(p.numel() for p in model.parameters())
            self.log(f'ok       model builds ({params / 1e6:.2f} M '
                     'parameters)')

    # ------------------------------------------------------------------ #
    def check_dataset(self, split: str) -> None:
        from pointhmr_mm.registry import DATASETS
        loader = self.cfg.get(f'{split}_dataloader')
        if not loader or 'dataset' not in loader:
            return
        key = f'{split}_dataloader.dataset'
        cfg = copy.deepcopy(loader['dataset'].to_dict() if hasattr(
            loader['dataset'], 'to_dict') else dict(loader['dataset']))
        if repr(cfg) in self.checked_datasets:
            return  # e.g. test_dataloader = val_dataloader: checked once
        self.checked_datasets.add(repr(cfg))
        if self._missing_under(key):
            return
        _set_on_error_raise(cfg)
        file = str(cfg.get('ann_file', cfg.get('type')))
        hint = self.dataset_hint(key)
        dataset = self._try(key, file, hint, lambda: DATASETS.build(cfg))
        if dataset is None:
            return
        if len(dataset) == 0:
            self.add(key, file, 'has no samples', hint)
            return
        self.report_supervision(split, file, dataset)
        self.read_samples(split, key, file, dataset, hint)

    def read_samples(self, split: str, key: str, file: str,
                     dataset, hint: str = HINT_DATA) -> None:
        """Read samples (all with ``read_all``) through the pipeline."""
        total = len(dataset)
        indices = (np.arange(total) if self.read_all else np.unique(
            np.linspace(0, total - 1, min(self.num_samples, total)).round()
            .astype(int)))
        failed = []
        for idx in tqdm(indices, desc=f'{split}: reading samples',
                        disable=len(indices) < PROGRESS_MIN_SAMPLES):
            try:
                dataset[int(idx)]
            except Exception as err:  # every broken sample is a problem
                failed.append((int(idx), err))
        for idx, err in failed[:MAX_SAMPLE_PROBLEMS]:
            self.add(f'{key}[{idx}]', file, f'sample {idx}: {err}', hint)
        if len(failed) > MAX_SAMPLE_PROBLEMS:
            self.add(key, file, f'{len(failed) - MAX_SAMPLE_PROBLEMS} more '
                     f'of the {len(indices)} samples read failed', hint)
        if not failed:
            self.log(f'ok       {split} dataset: {file} ({total} samples, '
                     f'{len(indices)} read)')
