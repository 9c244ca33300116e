"""Webhook refusal counts for the admin's health page: the receiver counts, `attro web` reads.

The receiver logs one JSON line per request to stderr, which nothing keeps. So each receiver process
also counts its refused deliveries per UTC hour and reason, in memory, and writes the counts of the
last two days to its own small JSON file under $ATTRO_DATA_DIR/monitoring/webhook_refusals/ — at most
every few seconds, replaced by rename, never fsynced: a crash may lose the last seconds of counts,
which only feed a dashboard, and the webhook route never waits for a disk.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.settings import Settings

KEEP_HOURS = 48
_FILE_MAX_AGE_SECONDS = KEEP_HOURS * 3600  # a file nobody wrote for that long holds nothing recent
_DETAIL = re.compile(r"\s*[(:].*$", re.DOTALL)


def refusals_dir(settings: Settings) -> Path:
    return settings.monitoring_dir / "webhook_refusals"


def reason_key(reason: str) -> str:
    """A refusal's kind without its particulars: 'body is not JSON (line 1 …)' → 'body is not JSON'.

    The particulars (a field, a number of seconds) would make every refusal its own row.
    """
    return _DETAIL.sub("", reason)[:80] or "refused"


def _hour(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H")


class RefusalCounter:
    """One process's counts: `add` is a dict update; the file is rewritten at most every
    `flush_seconds` (and by `flush`, at shutdown)."""

    def __init__(self, settings: Settings, flush_seconds: float = 5.0) -> None:
        name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
        self.path = refusals_dir(settings) / name
        self.flush_seconds = flush_seconds
        self.counts: Counter[tuple[str, str]] = Counter()
        self._flushed_at = 0.0
        self._dirty = False

    def add(self, reason: str, status: int, now: float | None = None) -> None:
        at = time.time() if now is None else now
        self.counts[(_hour(at), f"{status} {reason_key(reason)}")] += 1
        self._dirty = True
        if at - self._flushed_at >= self.flush_seconds:
            self.flush(at)

    def flush(self, now: float | None = None) -> None:
        if not self._dirty:
            return
        at = time.time() if now is None else now
        oldest = _hour(at - KEEP_HOURS * 3600)
        for key in [k for k in self.counts if k[0] < oldest]:
            del self.counts[key]
        rows = [{"hour": h, "reason": r, "count": n} for (h, r), n in sorted(self.counts.items())]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(json.dumps(rows))
            os.replace(tmp, self.path)
        except OSError:
            return  # a full or read-only disk: the landing path reports that; counts wait for the next try
        self._flushed_at, self._dirty = at, False


def recent_refusals(settings: Settings, now: datetime, hours: int = 24) -> dict[str, int]:
    """Refusals per reason (e.g. '400 no signature matches a configured webhook secret') in the last
    `hours` whole and current UTC hours, over every receiver process's file."""
    root = refusals_dir(settings)
    since = (now - timedelta(hours=hours - 1)).astimezone(UTC).strftime("%Y-%m-%dT%H")
    totals: Counter[str] = Counter()
    for path in root.glob("*.json") if root.is_dir() else []:
        try:
            if now.timestamp() - path.stat().st_mtime > _FILE_MAX_AGE_SECONDS:
                path.unlink(missing_ok=True)  # a process gone for two days: nothing recent in it
                continue
            rows = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and str(row.get("hour", "")) >= since:
                totals[str(row.get("reason"))] += int(row.get("count", 0))
    return dict(totals.most_common())
