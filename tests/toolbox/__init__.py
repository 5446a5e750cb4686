"""What the tests share that is not a fixture (fixtures stay in the
``conftest.py`` files).

``pytest.ini`` puts ``tests/`` on the import path (``pythonpath = tests``),
so a test writes ``from toolbox import ROOT, load_tool``; a subprocess
started by :func:`run_tool` (or with :func:`subprocess_env`) has it too.

Where things live:

- ``toolbox`` (here): ``ROOT`` (the repository), ``load_tool`` (a script of
  ``tools/`` as a module, imported once), ``run_tool`` (a script of
  ``tools/`` in a fresh Python) and ``subprocess_env``.
- ``toolbox.datasets``: tiny annotation files in the real layouts
  (HumanData ``.npz``, METRO's yaml + TSV + lineidx) and their images.
- ``toolbox.graphcmr``: ``mesh_downsampling.npz`` as GraphCMR laid it out.
- ``toolbox.official``: random weights in the released checkpoint's keys.
- ``toolbox.public_sources``: tiny EMDB, BEDLAM/AGORA and Human3.6M
  (NeuralAnnot) file sets as their producers write them.
- ``toolbox.pw3d``: 3DPW's original release in miniature (sequence
  pickles as Python 2 wrote them, images).
- ``toolbox.tiny_model``: the tiny PointHMR config (its ``MeshTargets`` on
  the 600-vertex test body of ``tests/conftest.py``) and a batch for it.
- ``toolbox.tiny_run``: the tiny PointHMR run the tools are tested on (the
  ``tiny_run`` fixture of ``tests/test_tools/conftest.py`` builds it).
- ``toolbox.toy``: the toy run for the training machinery; its configs are
  ``tests/data/toy/*.py``, its model, dataset and metric
  ``toolbox.toy_modules``; ``run_toy`` runs a tool on it. Its kill
  switches: ``toolbox.kill_hook`` (exit after an epoch) and
  ``toolbox.fault_hook`` (SIGKILL after a step, mid-save or before the
  checkpoint pointer).

Tests that start a subprocess, train or run a recipe carry
``@pytest.mark.slow`` (``pytest -m "not slow"`` leaves them out), and
``tests/test_toolbox.py`` keeps the suite free of ``sys.path`` edits, of
its own tool loaders, of ``ROOT`` definitions and of imports from
``conftest`` or other test modules, and finds tests that start a process
or train a runner without the marker.
"""
import functools
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / 'tests'
TOOLS = ROOT / 'tools'


@functools.cache
def load_tool(name: str) -> ModuleType:
    """Import ``tools/<name>.py`` once, e.g. ``load_tool('misc/check_data')``.

    The module is registered as ``tools_<name>`` (slashes as underscores),
    so what it defines pickles and dataclasses find their module. A tool
    that imports a neighbour script (``tools/analysis/benchmark_model.py``
    imports ``get_flops``) is run with :func:`run_tool` instead.
    """
    path = TOOLS / f'{name}.py'
    if not path.is_file():
        raise FileNotFoundError(f'load_tool({name!r}): no {path}')
    module_name = 'tools_' + name.replace('/', '_')
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def subprocess_env(**variables: str) -> dict:
    """``os.environ`` plus ``variables``, with ``tests/`` first on
    ``PYTHONPATH`` so that a child process imports ``toolbox`` (the toy
    config's ``custom_imports`` name ``toolbox.toy_modules``)."""
    paths = [str(TESTS), os.environ.get('PYTHONPATH', '')]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))
    env.update(variables)
    return env


def run_tool(name: str, *args, timeout: float = 300,
             cwd: Optional[Path] = None,
             env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run ``tools/<name>.py`` with ``args`` (made ``str``) in a fresh
    Python; returns the finished process, its output captured as text.

    Args:
        name: The script under ``tools/`` without ``.py``, e.g. ``'train'``
            or ``'analysis/benchmark_model'``.
        timeout: Seconds before ``subprocess.TimeoutExpired``.
        cwd: Working directory (default: the current one).
        env: Environment (default: :func:`subprocess_env`).
    """
    path = TOOLS / f'{name}.py'
    if not path.is_file():
        raise FileNotFoundError(f'run_tool({name!r}): no {path}')
    return subprocess.run([sys.executable, str(path), *map(str, args)],
                          env=subprocess_env() if env is None else env,
                          cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
