"""The web's signing key (admin and portal sessions, portal links), kept in state/ with mode 0600.

Deleting `$ATTRO_DATA_DIR/state/web_signing.key` signs everyone out and voids every portal link
handed out; the next start makes a new one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from core.settings import Settings


def key_path(settings: Settings) -> Path:
    return settings.state_dir / "web_signing.key"


def signing_key(settings: Settings) -> str:
    """The key, created (64 random hex digits, mode 0600) on first use."""
    path = key_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process (`attro portal link` beside `attro web`) made it first
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
                fh.flush()
                os.fsync(fh.fileno())
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable key; delete it to make a new one")
    return key
