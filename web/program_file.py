"""The program file as the web sees it: read again when it changes (branding, affiliates, links)."""

from __future__ import annotations

import contextlib
import os
import threading

from core.program import Program, ProgramError, load_program
from core.settings import Settings


class ProgramFile:
    """The last valid program file; a bad edit keeps the previous one (the pipeline reports the error)."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.program_path
        self._lock = threading.Lock()
        self._program = load_program(self.path)  # a bad file at start-up stops `attro web`
        self._stamp = self._identity()

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def current(self) -> Program:
        stamp = self._identity()
        if stamp != self._stamp and stamp is not None:
            with self._lock:
                with contextlib.suppress(ProgramError):  # a bad edit: keep serving the last good file
                    self._program = load_program(self.path)
                self._stamp = stamp
        return self._program
