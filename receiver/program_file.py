"""The program file as the receiver serves it: re-read when it changes or on SIGHUP, never restarted for.

The file is looked at (one stat) at most once per `check_interval` seconds, on the first request after
the interval, and re-read when its inode, size or mtime changed, so a link added while the receiver
runs works within about a second and a request costs one clock read. SIGHUP re-reads it at once,
whatever the stat says. A new version that does not load (bad TOML, an unknown offer, the file gone)
is logged and the previous one keeps serving; `problem` says why until a good version is read. Each
receiver process (`--workers N`) follows the file on its own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from core.program import Program, ProgramError, load_program
from receiver.logs import log_json

logger = logging.getLogger(__name__)

Signature = tuple[int, int, int] | None  # (inode, size, mtime in ns); None while the file is missing


def _signature(path: Path) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None  # missing or unreadable: the load that follows says which
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class ProgramFile:
    """The program currently served, from `path`; ProgramError at construction for a bad file."""

    def __init__(self, path: Path, check_interval: float = 1.0) -> None:
        self.path = path
        self.check_interval = check_interval
        self._signature = _signature(path)  # before the read: a write during it is seen next time
        self._program = load_program(path)
        self.loaded_at = datetime.now(UTC)
        self._checked_at = time.monotonic()
        self.problem: str | None = None
        self.problem_entries: list[str] = []  # the entries the problem names, without their values
        self._refreshing = threading.Lock()

    def current(self) -> Program:
        """The program to serve now."""
        if self._due():
            with self._refreshing:  # /healthz asks from a worker thread, routes from the event loop
                if self._due():
                    self._check()
        return self._program

    def reload(self) -> bool:
        """Read the file now, whatever its stat says (SIGHUP); False when the new version is bad."""
        with self._refreshing:
            self._checked_at = time.monotonic()
            self._signature = _signature(self.path)
            return self._load()

    def _due(self) -> bool:
        return time.monotonic() - self._checked_at >= self.check_interval

    def _check(self) -> None:
        self._checked_at = time.monotonic()
        signature = _signature(self.path)
        if signature != self._signature:
            self._signature = signature  # a bad version is logged once, not once a second
            self._load()

    def _load(self) -> bool:
        try:
            program = load_program(self.path)
        except Exception as exc:  # noqa: BLE001 - whatever the file holds, the last good version serves
            known = isinstance(exc, ProgramError)
            self.problem = str(exc) if known else f"{self.path}: {type(exc).__name__}: {exc}"
            self.problem_entries = exc.entries if known else []
            log_json(
                logger,
                logging.ERROR,
                "program_reload_failed",
                pid=os.getpid(),
                path=str(self.path),
                problem=self.problem,
                serving_version_loaded_at=self.loaded_at.isoformat(),
            )
            return False
        self._program, self.problem, self.loaded_at = program, None, datetime.now(UTC)
        self.problem_entries = []
        log_json(
            logger,
            logging.INFO,
            "program_reloaded",
            pid=os.getpid(),  # each worker process reloads on its own
            path=str(self.path),
            affiliates=len(program.affiliates),
            offers=len(program.offers),
            links=len(program.links),
        )
        return True
