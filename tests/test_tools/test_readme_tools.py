"""The README's "Training, testing, inference" section shows every tool
with an example, and the picture it shows exists."""
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
SECTION = '## Training, testing, inference'


def section() -> str:
    text = (ROOT / 'README.md').read_text()
    start = text.index(SECTION)
    end = text.find('\n## ', start + len(SECTION))
    return text[start:end if end > 0 else None]


def test_every_tool_has_an_example():
    text = section()
    tools = sorted(p.relative_to(ROOT).as_posix()
                   for p in (ROOT / 'tools').rglob('*')
                   if p.suffix in ('.py', '.sh') and '__' not in p.name)
    missing = [t for t in tools
               if not re.search(rf'(python|bash) {re.escape(t)}\b', text)]
    assert not missing, f'README "{SECTION}" has no example for {missing}'


def test_shown_pictures_exist():
    for path in re.findall(r'!\[[^\]]*\]\(([^)]+)\)', section()):
        assert (ROOT / path).is_file(), path
