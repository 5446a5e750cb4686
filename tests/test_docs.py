"""The docs are a map of the code: every repository path and relative link
they name exists, the design's package table matches the packages, the
README stays one screen of reading, and no document tells how the project
was worked on (only its commands, results and decisions)."""
import re
from pathlib import Path
from typing import Iterator, List, Set, Tuple

import pytest

from toolbox import ROOT

DOCS = [ROOT / 'README.md', ROOT / 'DEVELOPERS.md',
        *sorted((ROOT / 'docs').glob('*.md'))]
IDS = [p.relative_to(ROOT).as_posix() for p in DOCS]
README_MAX_LINES = 200
# A repository path starts at one of these folders and is not the tail of
# a longer path (``work_dirs/x/configs/...`` is not one).
PATH = re.compile(r'(?<![\w./$~-])((?:configs|tools|pointhmr_mm|docs|tests)'
                  r'/[\w./*{},-]*[\w*}/])')
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
FENCE = re.compile(r'^```.*?^```', re.S | re.M)
# Words of a diary, not of a project: how it was worked on.
DIARY = ('session', 'an earlier', 'earlier code', 'earlier run',
         'earlier machine', 'the issue', "issue's", 'one fast hour',
         'this machine', 'measured here', 'mannequin', 'the helper',
         'the lead engineer')
DESIGN = ROOT / 'docs' / 'design.md'
PACKAGE_ROW = re.compile(r'^\| `(pointhmr_mm/[\w/.]+?)/?` \|', re.M)
# Top-level modules that need no row: the package marker and its version.
UNLISTED_MODULES = {'__init__.py', 'version.py'}


def expand_braces(path: str) -> List[str]:
    """``a/{b,c}.py`` -> ``a/b.py``, ``a/c.py`` (one level, as written)."""
    match = re.search(r'\{([^{}]*)\}', path)
    if not match:
        return [path]
    head, tail = path[:match.start()], path[match.end():]
    return [p for alt in match.group(1).split(',')
            for p in expand_braces(head + alt + tail)]


def repo_paths(text: str) -> Iterator[str]:
    for raw in PATH.findall(text):
        yield from expand_braces(raw.rstrip('/'))


def path_exists(path: str) -> bool:
    if '*' in path:
        return any(ROOT.glob(path))
    return (ROOT / path).exists()


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return text.replace(' ', '-')


def anchors(doc: Path) -> Set[str]:
    prose = FENCE.sub('', doc.read_text())
    return {slug(h) for h in re.findall(r'^#{1,6} (.+)$', prose, re.M)}


def links(doc: Path) -> Iterator[Tuple[str, str]]:
    """(target file relative to ROOT or '', anchor) of each relative link."""
    for target in LINK.findall(FENCE.sub('', doc.read_text())):
        if re.match(r'[a-z]+:', target):
            continue  # a URL
        file, _, anchor = target.partition('#')
        if file:
            resolved = (doc.parent / file).resolve()
            file = resolved.relative_to(ROOT).as_posix() \
                if resolved.is_relative_to(ROOT) else str(resolved)
        else:
            file = doc.relative_to(ROOT).as_posix()
        yield file, anchor


@pytest.mark.parametrize('doc', DOCS, ids=IDS)
def test_named_paths_exist(doc):
    missing = sorted({p for p in repo_paths(doc.read_text())
                      if not path_exists(p)})
    assert not missing, f'{doc.name} names paths that do not exist: {missing}'


@pytest.mark.parametrize('doc', DOCS, ids=IDS)
def test_relative_links_resolve(doc):
    broken = []
    for file, anchor in links(doc):
        target = ROOT / file
        if not target.exists():
            broken.append(file)
        elif anchor and target.suffix == '.md' and \
                anchor not in anchors(target):
            broken.append(f'{file}#{anchor}')
    assert not broken, f'{doc.name}: broken links {broken}'


def diary_words(text: str) -> List[str]:
    text = text.lower()
    return [w for w in DIARY if re.search(rf'\b{re.escape(w)}', text)]


@pytest.mark.parametrize('doc', DOCS, ids=IDS)
def test_no_diary_words(doc):
    found = diary_words(doc.read_text())
    assert not found, (f'{doc.name} tells how the project was worked on: '
                       f'{found}')


def test_readme_is_one_screen():
    lines = len((ROOT / 'README.md').read_text().splitlines())
    assert lines < README_MAX_LINES, f'README.md has {lines} lines'


def test_design_table_matches_the_packages():
    listed = set(PACKAGE_ROW.findall(DESIGN.read_text()))
    assert listed, 'docs/design.md has no package table'
    missing = sorted(p for p in listed if not (ROOT / p).exists())
    assert not missing, f'docs/design.md lists what is not there: {missing}'
    package = ROOT / 'pointhmr_mm'
    required = {p.parent.relative_to(ROOT).as_posix()
                for p in [*package.glob('*/__init__.py'),
                          *package.glob('models/*/__init__.py')]}
    required |= {p.relative_to(ROOT).as_posix() for p in package.glob('*.py')
                 if p.name not in UNLISTED_MODULES}
    unlisted = sorted(required - listed)
    assert not unlisted, f'docs/design.md does not list {unlisted}'


def test_readme_sections_named_in_code_exist():
    """Code that points users at a README section names a real one."""
    headings = {h.strip() for h in re.findall(
        r'^#+ (.+)$', FENCE.sub('', (ROOT / 'README.md').read_text()), re.M)}
    stale = []
    for folder in ('pointhmr_mm', 'tools', 'configs'):
        for path in (ROOT / folder).rglob('*.py'):
            for name in re.findall(r'README,? "([^"\n]+)"', path.read_text()):
                if name not in headings:
                    stale.append(f'{path.relative_to(ROOT)}: "{name}"')
    assert not stale, f'README sections that do not exist: {stale}'


def test_checks_catch_what_they_should():
    """The helpers find broken paths, anchors and diary words."""
    assert list(repo_paths('see `configs/nope.py` and work_dirs/configs/x'))\
        == ['configs/nope.py']
    assert not path_exists('configs/nope.py')
    assert path_exists('configs/ablations/pointhmr_quickstart_*.py')
    assert expand_braces('a/{b,c}.py') == ['a/b.py', 'a/c.py']
    assert slug('Files, rendering and the body model') == \
        'files-rendering-and-the-body-model'
    assert slug('SMPL parameters (smplfitter)') == 'smpl-parameters-smplfitter'
    assert diary_words('Measured in an earlier Session here') == [
        'session', 'an earlier']
    assert not diary_words('resumed from an older checkpoint')
