"""Where the webhook signing secrets come from: ATTRO_STRIPE_WEBHOOK_SECRET, else the secret store."""

from __future__ import annotations

import logging
import os
import threading
import time

from core.secrets import SecretStore, SecretStoreError
from core.settings import Settings
from receiver.logs import log_json

logger = logging.getLogger(__name__)

NO_SECRET = "no webhook secret configured (set ATTRO_STRIPE_WEBHOOK_SECRET or run `attro secrets set-stripe`)"


class SigningSecrets:
    """The active secrets. Env secrets are fixed; store secrets follow the store file.

    The store is re-read when its file changes (inode, size or mtime), checked at most once per
    `check_interval` seconds, so `attro secrets remove` takes effect without a restart and a
    request costs one clock read. An unreadable store fails closed: no secrets, webhooks get 503.
    """

    def __init__(self, settings: Settings, check_interval: float = 1.0) -> None:
        self._env = settings.webhook_secrets
        self._store = None if self._env else SecretStore(settings)
        self.check_interval = check_interval
        self._secrets: list[str] = list(self._env)
        self._signature: tuple[int, int, int] | None = None
        self._checked_at = float("-inf")
        self.problem: str | None = None
        self._refreshing = threading.Lock()
        if self._store is not None:
            self._refresh()

    def current(self) -> list[str]:
        """The secrets to verify with now."""
        if self._store is not None and self._due():
            with self._refreshing:  # /healthz asks from a worker thread, webhooks from the event loop
                if self._due():
                    self._refresh()
        return self._secrets

    def _due(self) -> bool:
        return time.monotonic() - self._checked_at >= self.check_interval

    def why_none(self) -> str:
        """Why `current()` holds no secret: no secret set, or the store's problem (names no secret)."""
        return self.problem or NO_SECRET

    def _refresh(self) -> None:
        assert self._store is not None
        self._checked_at = time.monotonic()
        try:
            st = os.stat(self._store.path)
            signature: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            signature = None
        except OSError as exc:
            self._fail(f"cannot read the secret store: {exc.strerror}")
            return
        if signature == self._signature and self.problem is None:
            return
        self._signature = signature
        try:
            self._secrets = self._store.values() if signature is not None else []
        except SecretStoreError as exc:
            self._fail(str(exc))
            return
        self.problem = None
        log_json(logger, logging.INFO, "signing_secrets_loaded", source="store", count=len(self._secrets))

    def _fail(self, problem: str) -> None:
        if problem != self.problem:
            log_json(logger, logging.ERROR, "signing_secrets_unavailable", problem=problem)
        self.problem = problem
        self._secrets = []
