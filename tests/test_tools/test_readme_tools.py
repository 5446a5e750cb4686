"""docs/training_and_testing.md shows every tool with an example, and the
README keeps its test command (CI runs it)."""
import re

from toolbox import ROOT

DOC = ROOT / 'docs' / 'training_and_testing.md'
SECTION = '## Every tool, one example each'


def section() -> str:
    text = DOC.read_text()
    start = text.index(SECTION)
    end = text.find('\n## ', start + len(SECTION))
    return text[start:end if end > 0 else None]


def test_every_tool_has_an_example():
    text = section()
    # a shell file without a shebang is sourced by the scripts, not run
    tools = sorted(p.relative_to(ROOT).as_posix()
                   for p in (ROOT / 'tools').rglob('*')
                   if '__' not in p.name and (p.suffix == '.py' or (
                       p.suffix == '.sh' and
                       p.read_text().startswith('#!'))))
    missing = [t for t in tools
               if not re.search(rf'(python|bash) {re.escape(t)}\b', text)]
    assert not missing, f'{DOC.name} "{SECTION}" has no example for {missing}'


def test_every_example_names_a_tool():
    named = re.findall(r'(?:python|bash) (tools/\S+)', section())
    assert named, 'the section shows no tool'
    assert all((ROOT / path).is_file() for path in named), named


def test_readme_has_the_ci_test_command():
    readme = (ROOT / 'README.md').read_text()
    assert re.search(r'^bash tools/run_tests\.sh$', readme, re.M)
    assert 'python -m pytest tests' in (ROOT / 'tools' /
                                        'run_tests.sh').read_text()
