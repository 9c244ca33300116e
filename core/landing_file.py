"""One stream's append-only landing files: write, fsync, rotate by UTC date, cut back torn writes.

Standard library only (and core.durable, which is too): the receiver's landing process
(`receiver.lander`) imports this and nothing heavier; the pipelines land events read from the Stripe
API through it too.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from core.durable import fsync_dir, make_dirs_durably


def file_prefix(pid: int) -> str:
    """`<host>-<pid>`: landing file names start with it, so each receiver process has its own files."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
    return f"{host}-{pid}"


@dataclass
class _OpenFile:
    fd: int
    path: Path
    day: date
    inode: tuple[int, int]
    size: int = 0

    def still_in_place(self) -> bool:
        """False when the file was moved, deleted or its folder replaced behind our back."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self.inode


class LandingFiles:
    """The files one writer appends to: `<landing_dir>/<stream>/date=YYYY-MM-DD/<prefix>-<8 hex>.ndjson`.

    A new file per UTC date, and a new one after any failed write, so a torn line never sits in
    front of later records. Not thread-safe: one owner calls `commit`.
    """

    def __init__(self, landing_dir: Path, stream: str, prefix: str) -> None:
        self.stream_dir = Path(landing_dir) / stream
        self.prefix = prefix
        self.moved_files = 0  # files found moved or deleted under us (and left behind)
        self._file: _OpenFile | None = None

    @property
    def current_path(self) -> Path | None:
        """The file appended to now (None before the first commit or after a failure)."""
        return self._file.path if self._file else None

    def commit(self, data: bytes) -> Path:
        """Append `data` with one write and fsync it; the file it is in, else OSError (nothing kept)."""
        today = datetime.now(UTC).date()
        if self._file is not None and self._file.day != today:
            self.close()  # midnight UTC: the next record goes to the new date's folder
        if self._file is not None and not self._file.still_in_place():
            # Appending to an unlinked or moved file would "land" records nobody ever reads.
            self.close()
            self.moved_files += 1
        if self._file is None:
            self._file = self._open_new_file(today)
        f = self._file
        start = f.size
        try:
            view = memoryview(data)
            while view:  # a regular file takes it all at once; a short write is retried
                written = os.write(f.fd, view)
                f.size += written
                view = view[written:]
            os.fsync(f.fd)
        except OSError:
            # Cut back to the last good record and start a new file next time, so a torn line (or
            # unsynced data whose writers were told it failed) never sits in front of later records.
            if start == 0:
                self._remove_current()  # it holds no record: a full disk must not leave one per try
            else:
                with contextlib.suppress(OSError):
                    os.ftruncate(f.fd, start)
                    os.fsync(f.fd)
                self.close()
            raise
        return f.path

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                os.close(self._file.fd)
            self._file = None

    def _remove_current(self) -> None:
        """Close the current file and delete it: it holds no record."""
        assert self._file is not None
        path = self._file.path
        self.close()
        _discard(path)

    def _open_new_file(self, day: date) -> _OpenFile:
        day_dir = self.stream_dir / f"date={day.isoformat()}"
        make_dirs_durably(day_dir)
        path = day_dir / f"{self.prefix}-{secrets.token_hex(4)}.ndjson"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            fsync_dir(day_dir)  # the new file's name is durable before anything is acknowledged
            st = os.fstat(fd)
        except OSError:
            os.close(fd)
            _discard(path)
            raise
        return _OpenFile(fd=fd, path=path, day=day, inode=(st.st_dev, st.st_ino))


def _discard(path: Path) -> None:
    """Delete a landing file that holds no record (best effort: a read-only disk keeps it)."""
    with contextlib.suppress(OSError):
        path.unlink()
        fsync_dir(path.parent)
