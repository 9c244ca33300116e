"""Sessions signed out before they expire.

A session is a signed cookie (web/sessions.py): clearing it in the browser that signs out does not stop
a copy of it taken before (a shared computer, a proxy's log) from working until it expires, 12 hours for
the admin and up to a year for a portal link. Signing out therefore records the session — by a hash of
its CSRF token, which is random per session — in `$ATTRO_DATA_DIR/state/web_signed_out.json` until it
would have expired; every `attro web` process looks at the file's stamp on each signed-in request and
reads it again when it changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from web.sessions import Session

FILE_NAME = "web_signed_out.json"
LOCK_NAME = FILE_NAME + ".lock"  # serialises writers across processes


def _key(session: Session) -> str:
    return hashlib.sha256(session.csrf_token.encode()).hexdigest()[:32]


class SignedOutSessions:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._until: dict[str, float] = {}

    def __contains__(self, session: Session) -> bool:
        with self._lock:
            self._refresh()
            return _key(session) in self._until

    def add(self, session: Session, until: float) -> None:
        """Refuse `session` from now on (until `until`, when it would have expired anyway)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self._locked():
            self._stamp = None
            self._refresh()
            now = time.time()
            kept = {key: end for key, end in self._until.items() if end > now}
            kept[_key(session)] = until
            tmp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(kept, sort_keys=True))
            os.replace(tmp, self.path)
            self._until, self._stamp = kept, None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.path.parent / LOCK_NAME).open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _refresh(self) -> None:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._until = None, {}
            return
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp == self._stamp:
            return
        try:
            loaded = json.loads(self.path.read_text())
        except (OSError, ValueError):
            loaded = {}  # unreadable: sign nobody out rather than everybody
        self._until = {str(k): float(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
        self._stamp = stamp
