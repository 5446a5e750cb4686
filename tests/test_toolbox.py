"""The test toolbox (``tests/toolbox``) and the rules it makes possible:
no test file edits ``sys.path`` or ``PYTHONPATH``, loads a tool script
its own way, derives the repository from ``__file__`` or imports from
``conftest``, another test module or a ``tools/`` script by name; and a
test that starts a subprocess or trains with a runner carries
``@pytest.mark.slow``. The files are read with ``ast``, not imported."""
import ast
import os
import sys
from pathlib import Path

import pytest

from toolbox import ROOT, TESTS, TOOLS, load_tool, run_tool, subprocess_env

TOOLBOX = TESTS / 'toolbox'
THIS = TESTS / 'test_toolbox.py'  # its examples break every rule
# Calls that start another process (by their dotted name's start).
SUBPROCESS_CALLS = ('subprocess.', 'os.system', 'os.popen', 'os.exec',
                    'os.spawn')
LOADER_NAMES = {'spec_from_file_location', 'module_from_spec',
                'SourceFileLoader', 'run_path', 'syspath_prepend'}
# Builders of an mmengine runner: a function that builds one and calls a
# ``train()`` trains.
RUNNER_BUILDERS = ('build_runner', 'Runner', 'Runner.from_cfg',
                   'PointHMRRunner', 'PointHMRRunner.from_cfg')
# Code in a string (a worker script) that edits the import path.
PATH_CODE = ('sys.path.', 'sys.path[', 'sys.path +', 'PYTHONPATH')


def suite_files() -> list:
    """Every Python file under tests/ but the toolbox and this file."""
    return sorted(p for p in TESTS.rglob('*.py')
                  if TOOLBOX not in p.parents and p != THIS)


def local_module_names() -> set:
    """Top-level names a test could import from tests/ other than
    ``toolbox``: its modules and folders."""
    names = {p.stem for p in TESTS.rglob('*.py') if TOOLBOX not in p.parents}
    names |= {p.name for p in TESTS.iterdir() if p.is_dir()}
    return names - {'toolbox', '__init__', '__pycache__'}


def tool_script_names() -> set:
    return {p.stem for p in TOOLS.rglob('*.py')}


def boilerplate_problems(source: str, local: set, tools: set) -> list:
    """What ``source`` does that the toolbox does once for everyone."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, 'lineno', '?')
        problem = _node_problem(node)
        if problem:
            problems.append(f'{line}: {problem}')
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            problems += [f'{line}: {p}'
                         for p in _import_problems(node, local, tools)]
    return problems


def _node_problem(node) -> str:
    if isinstance(node, ast.Attribute) and node.attr == 'path' and \
            isinstance(node.value, ast.Name) and node.value.id == 'sys':
        return 'sys.path (pytest.ini puts tests/ on it; tools: load_tool)'
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
            any(code in node.value for code in PATH_CODE):
        return 'sys.path/PYTHONPATH in a string (toolbox.subprocess_env)'
    if isinstance(node, ast.keyword) and node.arg == 'PYTHONPATH':
        return 'sets PYTHONPATH (toolbox.subprocess_env)'
    names = {getattr(node, key, None) for key in ('attr', 'id', 'name')}
    if isinstance(node, (ast.Attribute, ast.Name, ast.alias)) and \
            names & LOADER_NAMES:
        return 'a loader of its own (toolbox.load_tool)'
    if isinstance(node, ast.Name) and node.id == '__file__':
        return 'a path from __file__ (toolbox.ROOT)'
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) \
            else [node.target]
        if any(isinstance(t, ast.Name) and t.id == 'ROOT' for t in targets):
            return 'defines ROOT (toolbox.ROOT)'
    return ''


def _import_problems(node, local: set, tools: set) -> list:
    if isinstance(node, ast.ImportFrom):
        if node.level:
            return ['a relative import (tests/ has no packages but toolbox)']
        names = [node.module]
    else:
        names = [alias.name for alias in node.names]
    problems = []
    for name in names:
        top = name.split('.')[0]
        if top in local:
            problems.append(f'imports {name} (shared helpers: toolbox; '
                            'fixtures: conftest.py, never imported)')
        elif top in tools:
            problems.append(f'imports the tool {name} by name '
                            '(toolbox.load_tool)')
    return problems


def _is_slow(node, functions: set) -> bool:
    """Whether ``node`` calls ``subprocess.*``, ``os.system``, ... or one
    of ``functions`` by its plain name, or builds a runner and calls a
    ``train()``."""
    calls = [ast.unparse(c.func) for c in ast.walk(node)
             if isinstance(c, ast.Call)]
    if any(c.startswith(SUBPROCESS_CALLS) or c in functions for c in calls):
        return True
    builds = any(c in RUNNER_BUILDERS for c in calls)
    return builds and any(c.endswith('.train') for c in calls)


def _functions(tree):
    """Module-level functions and the methods of module-level classes,
    with the decorators of their class."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node, []
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield item, node.decorator_list


def slow_functions(tree, known: set = frozenset()) -> set:
    """Names of the functions (fixtures included) of ``tree`` that start a
    process or train: they call ``subprocess.*``, ``os.system``, a function
    of this set or of ``known`` (the toolbox's ``run_tool``, the conftest
    fixtures that start one), build a runner and train it, or take such a
    fixture."""
    functions = {f.name: f for f, _ in _functions(tree)}
    found = set(known)
    changed = True
    while changed:
        changed = False
        for name, func in functions.items():
            if name in found:
                continue
            params = {a.arg for a in func.args.args + func.args.kwonlyargs}
            if _is_slow(func, found) or params & found:
                found.add(name)
                changed = True
    return found


def _is_slow_marker(node) -> bool:
    text = ast.unparse(node)
    return text in ('pytest.mark.slow', 'mark.slow') or \
        text.startswith(('pytest.mark.slow(', 'mark.slow('))


def _module_is_slow(tree) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'pytestmark'
                for t in node.targets):
            marks = node.value.elts if isinstance(
                node.value, (ast.List, ast.Tuple)) else [node.value]
            if any(_is_slow_marker(m) for m in marks):
                return True
    return False


def unmarked_slow_tests(source: str, known: set = frozenset()) -> list:
    """Tests of ``source`` that start a process or train but are not
    marked slow."""
    tree = ast.parse(source)
    if _module_is_slow(tree):
        return []
    slow = slow_functions(tree, known)
    return [func.name for func, class_marks in _functions(tree)
            if func.name.startswith('test') and func.name in slow
            and not any(_is_slow_marker(d) or 'fixture' in ast.unparse(d)
                        for d in func.decorator_list + class_marks)]


def known_slow() -> set:
    """The toolbox's functions and the conftest fixtures that start a
    process or train."""
    found = set()
    for path in [*TOOLBOX.rglob('*.py'), *TESTS.rglob('conftest.py')]:
        found |= slow_functions(ast.parse(path.read_text()), found)
    return found


@pytest.mark.parametrize('path', suite_files(),
                         ids=lambda p: p.relative_to(TESTS).as_posix())
def test_file_uses_the_toolbox(path):
    problems = boilerplate_problems(path.read_text(), local_module_names(),
                                    tool_script_names())
    assert not problems, f'{path.relative_to(ROOT)}:\n' + '\n'.join(problems)


@pytest.mark.parametrize('path', suite_files(),
                         ids=lambda p: p.relative_to(TESTS).as_posix())
def test_slow_tests_are_marked(path):
    missing = unmarked_slow_tests(path.read_text(), known_slow())
    assert not missing, (f'{path.relative_to(ROOT)}: {missing} start a '
                         'process or train: mark them @pytest.mark.slow')


BAD = '''\
import sys
from pathlib import Path
import importlib.util
ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT))
spec = importlib.util.spec_from_file_location('t', ROOT / 't.py')
from conftest import CROP
from test_x import helper
import model_helpers
import get_flops
WORKER = 'import sys; sys.path.insert(0, sys.argv[1])'
def test_env(monkeypatch):
    monkeypatch.syspath_prepend('tools')
    env = dict(os.environ, PYTHONPATH='tools')
    """Docstrings may speak of sys.path and of conftest."""
'''


def test_the_scan_finds_each_kind_of_boilerplate():
    local, tools = {'conftest', 'model_helpers', 'test_x'}, {'get_flops'}
    problems = boilerplate_problems(BAD, local, tools)
    text = '\n'.join(problems)
    for expected in ('4: defines ROOT', '4: a path from __file__',
                     '5: sys.path', '6: a loader of its own',
                     '7: imports conftest', '8: imports test_x',
                     '9: imports model_helpers', '10: imports the tool',
                     '11: sys.path/PYTHONPATH in a string',
                     '13: a loader of its own', '14: sets PYTHONPATH'):
        assert expected in text, (expected, text)
    assert len(problems) == 11  # and nothing about the docstring
    good = ('from toolbox import ROOT, load_tool\n'
            'from toolbox.toy import CONFIG\n'
            "train = load_tool('train')\n")
    assert boilerplate_problems(good, local, tools) == []


SLOW_TESTS = '''\
import subprocess
import pytest
from toolbox import run_tool
from pointhmr_mm.engine import build_runner

def run(*args):
    return subprocess.run(args)

@pytest.fixture
def trained(tmp_path):
    return run('python', 'train.py')

@pytest.fixture
def config(tmp_path):
    return tmp_path

def test_direct():
    run_tool('train')

def test_through_a_helper():
    run('ls')

def test_through_a_fixture(trained):
    pass

def test_through_a_conftest_fixture(tiny_recipe):
    pass

@pytest.mark.slow
def test_marked(trained):
    pass

def test_in_process(config):
    session.run(None, {})  # not the helper run()
    assert platform.system()

@pytest.fixture
def test_data(trained):
    return trained

@pytest.mark.slow
class TestMarked:
    def test_method(self, trained):
        pass

def fit(cfg):
    runner = build_runner(cfg)
    runner.train()
    return runner

def test_trains_a_runner(tmp_path):
    fit(tmp_path)

def test_builds_only(tmp_path):
    assert build_runner(tmp_path).model is not None

def test_model_in_training_mode(model):
    assert model.train().training
'''


def test_the_scan_finds_unmarked_slow_tests():
    assert 'run_tool' in known_slow()
    missing = unmarked_slow_tests(SLOW_TESTS, {'run_tool', 'tiny_recipe'})
    assert missing == ['test_direct', 'test_through_a_helper',
                       'test_through_a_fixture',
                       'test_through_a_conftest_fixture',
                       'test_trains_a_runner']
    module_marked = 'import pytest\npytestmark = [pytest.mark.slow]\n'
    assert unmarked_slow_tests(module_marked + SLOW_TESTS) == []


def test_load_tool_imports_once_and_names_a_missing_tool():
    tool = load_tool('misc/print_config')
    assert load_tool('misc/print_config') is tool
    assert Path(tool.__file__) == TOOLS / 'misc' / 'print_config.py'
    assert sys.modules[tool.__name__] is tool
    with pytest.raises(FileNotFoundError, match='tools/misc/nope.py'):
        load_tool('misc/nope')


def test_subprocess_env_puts_tests_first(monkeypatch):
    monkeypatch.setenv('PYTHONPATH', '/elsewhere')
    env = subprocess_env(EXTRA='1')
    assert env['PYTHONPATH'].split(os.pathsep) == [str(TESTS), '/elsewhere']
    assert env['EXTRA'] == '1'
    monkeypatch.delenv('PYTHONPATH')
    assert subprocess_env()['PYTHONPATH'] == str(TESTS)


@pytest.mark.slow
def test_run_tool_sees_the_toolbox(tmp_path):
    """The toy config imports ``toolbox.toy_modules`` in the tool's own
    process."""
    from toolbox.toy import CONFIG
    result = run_tool('misc/print_config', CONFIG, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "type='ToyModel'" in result.stdout
    with pytest.raises(FileNotFoundError, match='tools/nope.py'):
        run_tool('nope')
