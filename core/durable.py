"""Making a rename or a new folder survive a crash: fsync the folder that holds the name.

Standard library only: the receiver's landing process imports it.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush `path`'s entries (a file created, renamed into it or removed) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
