"""The web's signing key (admin and portal sessions, portal links), kept in state/ with mode 0600.

Deleting `$ATTRO_DATA_DIR/state/web_signing.key` signs everyone out and voids every portal link
handed out: a running `attro web` notices within a second (`SigningKey`) and makes a new key, as the
next `attro portal link` does, so both sign with the same one.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from pathlib import Path

from core.durable import create_once
from core.settings import Settings

logger = logging.getLogger(__name__)

_LOOK_EVERY_SECONDS = 1.0


class KeyFileError(RuntimeError):
    """The key file exists but holds no usable key."""


def key_path(settings: Settings) -> Path:
    return settings.state_dir / "web_signing.key"


def signing_key(settings: Settings) -> str:
    """The key, created (64 random hex digits, mode 0600) on first use; KeyFileError when the file
    holds none."""
    path = key_path(settings)
    if not path.exists():
        create_once(path, secrets.token_hex(32).encode())  # or another process's, made first
    try:
        key = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path} cannot be read as a key ({exc}); delete it to make a new one") from None
    if len(key) < 32:
        raise KeyFileError(f"{path} holds no usable key; delete it to make a new one")
    return key


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


class SigningKey:
    """The key as a running `attro web` follows it: the file is looked at (one stat) at most once a
    second and read again when it changed; deleted, a new key is made, and every session and link
    signed with the old one is refused. A file changed into one with no usable key keeps the key in
    use (and says so once), as no key is better than one nobody can check."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._path = key_path(settings)
        self._lock = threading.Lock()
        self._key = signing_key(settings)
        self._stamp = _stamp(self._path)
        self._looked = time.monotonic()
        self._problem: str | None = None

    def __call__(self) -> str:
        now = time.monotonic()
        if now - self._looked < _LOOK_EVERY_SECONDS:
            return self._key
        with self._lock:
            self._looked = now
            stamp = _stamp(self._path)
            if stamp != self._stamp:
                self._stamp = stamp  # taken before the read: a change landing after it is seen next time
                try:
                    self._key = signing_key(self._settings)
                    self._problem = None
                    logger.warning(
                        "web signing key %s changed: earlier sessions and links are void", self._path
                    )
                except (KeyFileError, OSError) as exc:
                    if str(exc) != self._problem:
                        logger.error("web signing key not changed: %s", exc)
                    self._problem = str(exc)
                if stamp is None:  # deleted: signing_key made (or found) the new file
                    self._stamp = _stamp(self._path)
            return self._key
