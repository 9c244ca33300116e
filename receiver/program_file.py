"""The program file as the receiver serves it: re-read when it changes or on SIGHUP, never restarted for.

The file is looked at (one stat) at most once per `check_interval` seconds, on the first request after
the interval, and re-read when its inode, size or mtime changed, so a link added while the receiver
runs works within about a second and a request costs one clock read. SIGHUP re-reads it at once,
whatever the stat says. A new version that does not load (bad TOML, an unknown offer, the file gone)
is logged and the previous one keeps serving; `problem` says why until a good version is read. Each
receiver process (`--workers N`) follows the file on its own.

Each version that loads is also kept as `last_good` (written whole, then renamed): a worker that
uvicorn starts to replace one that died, while the file is bad, starts from that copy and says so,
instead of failing to start — which would make uvicorn stop every worker.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from core.program import Program, ProgramError, load_program, parse_program, read_program_text
from receiver.logs import log_json

logger = logging.getLogger(__name__)

LAST_GOOD_PROGRAM = "last-good-program.toml"  # in the receiver's monitoring folder
_COPY_OF = "# attro: the last version that loaded of "  # the copy's first line names its file
# Set by `attro serve --workers N` for its workers: only a worker it supervises starts from the copy.
SUPERVISED_WORKER_ENV = "_ATTRO_SUPERVISED_WORKER"
Signature = tuple[int, int, int] | None  # (inode, size, mtime in ns); None while the file is missing


def _signature(path: Path) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None  # missing or unreadable: the load that follows says which
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _copied_from(copy: Path) -> str | None:
    """The program file a last good copy was made of (its first line), or None."""
    try:
        with copy.open(encoding="utf-8") as fh:
            first = fh.readline().rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return None
    return first.removeprefix(_COPY_OF) if first.startswith(_COPY_OF) else None


class ProgramFile:
    """The program currently served, from `path`; ProgramError at construction for a bad file."""

    def __init__(
        self,
        path: Path,
        check_interval: float = 1.0,
        last_good: Path | None = None,
        *,
        start_from_last_good: bool = False,
    ) -> None:
        self.path = path
        self.check_interval = check_interval
        self.last_good = last_good
        self._signature = _signature(path)  # before the read: a write during it is seen next time
        self.problem: str | None = None
        self.problem_entries: list[str] = []  # the entries the problem names, without their values
        self._refreshing = threading.Lock()
        self.loaded_at = datetime.now(UTC)
        try:
            self._program = self._read()
        except ProgramError as exc:
            if not (start_from_last_good and last_good is not None and _copied_from(last_good) == str(path)):
                raise  # no copy, or one of another program file: refused, as `attro serve` refuses
            self._program = load_program(last_good)
            self.loaded_at = datetime.fromtimestamp(last_good.stat().st_mtime, UTC)  # when it was good
            self._failed(str(exc), exc.entries, serving=f"the last version that loaded, kept in {last_good}")
        self._checked_at = time.monotonic()

    def _read(self) -> Program:
        """The file's program (ProgramError for a bad one), kept as the last good version."""
        text = read_program_text(self.path)
        program = parse_program(self.path, text)
        if self.last_good is not None:
            try:
                self._keep(text)
            except OSError as exc:  # a full disk must not stop a good version from serving
                log_json(
                    logger, logging.WARNING, "program_copy_failed", path=str(self.last_good), error=str(exc)
                )
        return program

    def _failed(self, problem: str, entries: list[str], **serving: str) -> None:
        """A version that does not load: said until a good one is read, and logged once."""
        self.problem, self.problem_entries = problem, entries
        log_json(
            logger,
            logging.ERROR,
            "program_reload_failed",
            pid=os.getpid(),
            path=str(self.path),
            problem=problem,
            **serving,
        )

    def _keep(self, text: str) -> None:
        """Write `text` as the last good copy: whole under a temporary name, then renamed."""
        assert self.last_good is not None
        self.last_good.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.last_good.parent, prefix=".program.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(f"{_COPY_OF}{self.path}\n{text}")
            os.replace(tmp, self.last_good)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

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
            program = self._read()
        except Exception as exc:  # noqa: BLE001 - whatever the file holds, the last good version serves
            known = isinstance(exc, ProgramError)
            self._failed(
                str(exc) if known else f"{self.path}: {type(exc).__name__}: {exc}",
                exc.entries if known else [],
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
