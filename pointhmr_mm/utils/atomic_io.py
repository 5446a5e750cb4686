"""Atomic file writes: a reader (or a crash) never sees a half-written
file, and a failed write leaves the old file as it was."""
import os
import os.path as osp
from pathlib import Path
from typing import BinaryIO, Callable, Union

TMP_SUFFIX = '.tmp'


def _fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op elsewhere)."""
    if os.name != 'posix':
        return
    fd = os.open(folder or '.', os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(tmp_path: str, path: str) -> None:
    """Flush ``tmp_path`` to disk and rename it over ``path`` in one step."""
    with open(tmp_path, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, path)
    _fsync_dir(osp.dirname(path))


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)``, then move the file to ``path``.

    ``path`` is never seen half-written; on any error the temporary file is
    removed and ``path`` is left as it was.
    """
    tmp_path = path + TMP_SUFFIX
    try:
        write(tmp_path)
        replace_atomically(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise


def write_text_atomically(path: str, text: str) -> None:
    """Atomic counterpart of ``open(path, 'w').write(text)``."""

    def write(tmp_path: str) -> None:
        with open(tmp_path, 'w') as f:
            f.write(text)

    write_atomically(path, write)


def write_file_atomically(path: Union[str, Path],
                          write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(f)`` on a binary file object, then move the file to
    ``path`` (as :func:`write_atomically`)."""

    def to_file(tmp_path: str) -> None:
        with open(tmp_path, 'wb') as f:
            write(f)

    write_atomically(str(path), to_file)
