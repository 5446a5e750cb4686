"""The package's floors: ``pointhmr_mm.utils`` is the ground floor and
imports nothing above it, at module level or inside functions."""
import ast
from pathlib import Path

import pytest

import pointhmr_mm

PACKAGE = Path(pointhmr_mm.__file__).parent
HIGHER = ('models', 'datasets', 'engine', 'apis', 'synthetic',
          'visualization', 'evaluation', 'testing', 'setup_env')


def imported_modules(path: Path, package: str):
    """Absolute names of every module ``path`` imports (relative imports
    resolved against ``package``), with their line numbers."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) -
                                          node.level + 1]
                name = '.'.join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            yield name, node.lineno
            for alias in node.names:  # ``from pointhmr_mm import models``
                yield f'{name}.{alias.name}', node.lineno


def upward_imports(folder: Path, package: str, root: Path = PACKAGE.parent):
    bad = []
    for path in sorted(folder.rglob('*.py')):
        for name, line in imported_modules(path, package):
            parts = name.split('.')
            if parts[0] == 'pointhmr_mm' and len(parts) > 1 and \
                    parts[1] in HIGHER:
                bad.append(f'{path.relative_to(root)}:{line} '
                           f'imports {name}')
    return bad


def test_utils_imports_no_higher_package():
    assert upward_imports(PACKAGE / 'utils', 'pointhmr_mm.utils') == []


def test_the_check_sees_relative_and_function_level_imports(tmp_path):
    folder = tmp_path / 'utils'
    folder.mkdir()
    (folder / 'ok.py').write_text('import numpy\nfrom . import geometry\n')
    (folder / 'bad.py').write_text(
        'from ..models import PointHMR\n'
        'def f():\n'
        '    import pointhmr_mm.datasets\n'
        '    from pointhmr_mm import engine\n')
    bad = upward_imports(folder, 'pointhmr_mm.utils', root=tmp_path)
    assert {b.split(' imports ')[1] for b in bad} == {
        'pointhmr_mm.models', 'pointhmr_mm.models.PointHMR',
        'pointhmr_mm.datasets', 'pointhmr_mm.engine'}
    assert all(b.startswith('utils/bad.py:') for b in bad)


@pytest.mark.parametrize('name', ['pointhmr_mm.utils', 'pointhmr_mm.utils.cpu',
                                  'pointhmr_mm.utils.constants'])
def test_utils_modules_import_on_their_own(name):
    __import__(name)
