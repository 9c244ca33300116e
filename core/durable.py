"""Making a rename or a new folder survive a crash: fsync the folder that holds the name.

Standard library only: the receiver's landing process imports it.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush `path`'s entries (a file created, renamed into it or removed) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_temp(path: Path, content: bytes) -> Path:
    """A new file beside `path` (mode 0600, a dot name ending `.tmp`) holding `content`, fsynced: to
    link or rename into place; the caller removes it if it does not."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        _write_new(tmp, content)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _write_new(path: Path, content: bytes) -> None:
    """Create `path` (mode 0600; FileExistsError if it is there) holding `content`, fsynced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())


def create_once(path: Path, content: bytes) -> bool:
    """Make `path` (mode 0600) holding `content` unless it exists; False when another process made it
    first (use theirs). Written whole to a temporary file first and then linked into place, so no
    process ever reads it empty or in part (created empty and then written, a process that lost the
    race read an empty key: a crash, or an empty salt)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = private_temp(path, content)
    try:
        try:
            os.link(tmp, path)  # never replaces: the first process's file wins
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            return _create_exclusively(path, content)  # vfat, exFAT, some network shares
        fsync_dir(path.parent)
        return True
    finally:
        tmp.unlink(missing_ok=True)


_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


def _create_exclusively(path: Path, content: bytes) -> bool:
    """`create_once` where the filesystem has no hard links: created and then written (a process
    losing the race by a few microseconds can read it empty)."""
    try:
        _write_new(path, content)
    except FileExistsError:
        return False
    fsync_dir(path.parent)
    return True


def make_dirs_durably(path: Path) -> None:
    """mkdir -p, then fsync the parent of every folder created so the new names survive a crash."""
    missing: list[Path] = []
    node = path
    while not node.is_dir():
        missing.append(node)
        node = node.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        fsync_dir(folder.parent)


def append_lines(path: Path, lines: list[str]) -> None:
    """Append whole lines to a JSON-lines store durably: one write and an fsync, the folder fsynced when
    the file is new. A torn last line a crash left (no newline) is ended first, so the new lines are
    never glued onto it and lost with it."""
    make_dirs_durably(path.parent)
    created = not path.exists()
    with path.open("a+b") as fh:
        fh.seek(0, os.SEEK_END)
        torn = False
        if fh.tell() > 0:
            fh.seek(-1, os.SEEK_END)
            torn = fh.read(1) != b"\n"
        fh.write((b"\n" if torn else b"") + "".join(line + "\n" for line in lines).encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
    if created:
        fsync_dir(path.parent)
