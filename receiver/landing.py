"""The landing writer: append-only NDJSON per stream and UTC date, group-committed with fsync."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import re
import secrets
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

logger = logging.getLogger(__name__)


class LandingError(RuntimeError):
    """Records could not be landed durably (disk full, read-only, bad directory, writer closed)."""


# Characters that str.splitlines() and some readers treat as line ends although JSON lets them
# stand unescaped inside strings; escaping them keeps every record on one line for any reader.
_LINE_BREAKERS = (("\x85", "\\u0085"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def dumps_record(record: dict[str, Any]) -> str:
    """One record as one NDJSON line (compact, UTF-8 kept as is, '\\n' terminated)."""
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    # str.replace, each only when needed: str.translate with a table costs ~1 ms per 5 KB payload.
    for char, escaped in _LINE_BREAKERS:
        if char in text:
            text = text.replace(char, escaped)
    return text + "\n"


_LINE_BREAKERS_UTF8 = tuple((c.encode(), e.encode()) for c, e in _LINE_BREAKERS)


def encode_record(record: dict[str, Any]) -> bytes:
    """`dumps_record(record)` as UTF-8 bytes, through orjson (several times faster on big payloads).

    Falls back to the standard library for what orjson refuses (integers over 64 bits, odd types),
    so both paths give the same line for every record.
    """
    try:
        data = orjson.dumps(record)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return dumps_record(record).encode("utf-8")
    for char, escaped in _LINE_BREAKERS_UTF8:
        if char in data:
            data = data.replace(char, escaped)
    return data + b"\n"


def utc_timestamp(at: datetime) -> str:
    """RFC 3339 UTC with microseconds and a 'Z', the landing zone's one time format."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@dataclass
class _Waiter:
    data: bytes
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


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


_STOP = object()


def _make_dirs_durably(path: Path) -> None:
    """mkdir -p, then fsync the parent of every folder created so the new names survive a crash."""
    missing: list[Path] = []
    node = path
    while not node.is_dir():
        missing.append(node)
        node = node.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        _fsync_dir(folder.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LandingWriter:
    """Append-only NDJSON writer for one stream (`stripe_events`, `clicks`) of the landing zone.

    One dedicated thread owns the file. `append` queues its records and waits; the thread takes
    every pending batch, writes them with one write call, makes them durable with one fsync and
    then wakes all the waiters (group commit).
    Files: `<landing_dir>/<stream>/date=YYYY-MM-DD/<host>-<pid>-<8 hex>.ndjson`, a new one per UTC
    date, and a new one after any failed write so no torn line precedes later records.
    """

    def __init__(self, landing_dir: Path, stream: str) -> None:
        self.landing_dir = Path(landing_dir)
        self.stream = stream
        self.stream_dir = self.landing_dir / stream
        self._queue: queue.SimpleQueue[_Waiter | object] = queue.SimpleQueue()
        self._file: _OpenFile | None = None
        self._closed = False
        self._lock = threading.Lock()
        host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
        self._file_prefix = f"{host}-{os.getpid()}"
        self._thread = threading.Thread(target=self._run, name=f"landing-{stream}", daemon=True)
        self._thread.start()

    # -- public API ---------------------------------------------------------------------------

    async def append(self, records: list[dict[str, Any]]) -> None:
        """Land `records` in order, contiguously; return once fsynced, else raise LandingError."""
        if not records:
            return
        try:
            data = b"".join([encode_record(r) for r in records])
        except (TypeError, ValueError) as exc:
            raise LandingError(f"record is not JSON-serialisable: {exc}") from exc
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._closed:
                raise LandingError(f"landing writer for {self.stream!r} is closed")
            self._queue.put(_Waiter(data, loop, future))
        await future

    def close(self) -> None:
        """Finish pending batches, stop the writer thread and close the file."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()

    @property
    def current_path(self) -> Path | None:
        """The file this writer appends to now (None before the first batch or after a failure)."""
        return self._file.path if self._file else None

    def check_writable(self) -> str | None:
        """None when a probe file can be created, fsynced and deleted in the stream folder."""
        if not self._thread.is_alive():
            return f"landing writer for {self.stream!r} is not running"
        probe = self.stream_dir / f".probe-{self._file_prefix}-{secrets.token_hex(4)}"
        try:
            self.stream_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, b"probe\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            probe.unlink()
        except OSError as exc:
            with contextlib.suppress(OSError):
                probe.unlink()
            return f"{self.stream_dir} is not writable: {exc.strerror or exc}"
        return None

    def writable(self) -> bool:
        """True when the landing folder for this stream accepts durable writes (for /healthz)."""
        return self.check_writable() is None

    # -- writer thread ------------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[_Waiter] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    assert isinstance(item, _Waiter)
                    batch.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch)
        self._close_file()

    def _commit(self, batch: list[_Waiter]) -> None:
        try:
            self._write_durably(b"".join(w.data for w in batch))
        except Exception as exc:  # any failure must reach the waiters, never kill the thread
            logger.error(json.dumps({"event": "landing_failed", "stream": self.stream, "error": str(exc)}))
            error = LandingError(f"could not land {self.stream} records: {exc}")
            self._resolve(batch, error)
        else:
            self._resolve(batch, None)

    def _write_durably(self, data: bytes) -> None:
        today = datetime.now(UTC).date()
        if self._file is not None and self._file.day != today:
            self._close_file()  # midnight UTC: the next record goes to the new date's folder
        if self._file is not None and not self._file.still_in_place():
            # Appending to an unlinked or moved file would "land" records nobody ever reads.
            logger.warning(json.dumps({"event": "landing_file_moved", "stream": self.stream}))
            self._close_file()
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
            with contextlib.suppress(OSError):
                os.ftruncate(f.fd, start)
                os.fsync(f.fd)
            self._close_file()
            raise

    def _open_new_file(self, day: date) -> _OpenFile:
        day_dir = self.stream_dir / f"date={day.isoformat()}"
        _make_dirs_durably(day_dir)
        path = day_dir / f"{self._file_prefix}-{secrets.token_hex(4)}.ndjson"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            _fsync_dir(day_dir)  # the new file's name is durable before anything is acknowledged
            st = os.fstat(fd)
        except OSError:
            os.close(fd)
            raise
        return _OpenFile(fd=fd, path=path, day=day, inode=(st.st_dev, st.st_ino))

    def _close_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                os.close(self._file.fd)
            self._file = None

    @staticmethod
    def _resolve(batch: Iterable[_Waiter], error: Exception | None) -> None:
        # One wake-up per event loop for the whole batch, not one per waiter.
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for waiter in batch:
            by_loop.setdefault(waiter.loop, []).append(waiter.future)
        for loop, futures in by_loop.items():
            # RuntimeError: the waiter's event loop is gone, nobody is listening any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle_all, futures, error)


def _settle_all(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in futures:
        _settle(future, error)


def _settle(future: asyncio.Future[None], error: Exception | None) -> None:
    if future.done():
        return  # the request was cancelled (client went away); its records are landed regardless
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
