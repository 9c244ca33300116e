"""The health page's facts: last run, landing lag, webhook refusals, Stripe sync, flags, quarantine.

Each comes from where the system already keeps it: the last run from data/build/last_run.json
(pipelines/freshness.py), the lag from file times, refusals from the receiver's counts
(core/refusals.py), the Stripe sync from the status file every sync writes
(data/monitoring/stripe_sync.json, pipelines/stripe_sync.py), flags and quarantined events from
the published warehouse.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.contracts import LANDED_RECORDS
from core.refusals import recent_refusals
from core.settings import Settings
from pipelines.freshness import landing_read_from, last_run
from pipelines.stripe_sync import status_path


@dataclass(frozen=True)
class Health:
    now: datetime
    last_run_at: datetime | None
    warehouse_at: datetime | None
    newest_landing_at: datetime | None
    refusals: dict[str, int]
    stripe_sync: dict[str, Any] | None

    @property
    def last_run_age_seconds(self) -> float | None:
        return (self.now - self.last_run_at).total_seconds() if self.last_run_at else None

    @property
    def landing_lag_seconds(self) -> float | None:
        """How much newer the newest landed data is than what the published warehouse read (0: all
        published): `warehouse_at` is when its run began reading the landing zone."""
        if self.newest_landing_at is None:
            return None
        if self.warehouse_at is None:
            return (self.now - self.newest_landing_at).total_seconds()
        return max(0.0, (self.newest_landing_at - self.warehouse_at).total_seconds())


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
    except OSError:
        return None


def newest_landing(settings: Settings) -> datetime | None:
    """The newest landing file's mtime; only the last day folders are looked at (landing is
    partitioned by UTC date), so it costs a few stats however long the history is."""
    newest: datetime | None = None
    for stream in LANDED_RECORDS:  # the landing streams
        root = settings.landing_dir / stream
        try:
            days = sorted((e.name for e in os.scandir(root) if e.is_dir()), reverse=True)[:2]
        except OSError:
            continue
        for day in days:
            for entry in os.scandir(root / day):
                at = _mtime(Path(entry.path))
                if at is not None and (newest is None or at > newest):
                    newest = at
    return newest


def stripe_sync_status(settings: Settings) -> dict[str, Any] | None:
    """What the last `attro stripe sync` wrote (finished_at, missed_by_webhooks, ...); None: no sync."""
    try:
        status = json.loads(status_path(settings).read_text())
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


def health(settings: Settings, now: datetime | None = None) -> Health:
    at = now or datetime.now(UTC)
    return Health(
        now=at,
        last_run_at=last_run(settings),
        # a run reads what landed from when it began, not up to its publish (audit: lines landed while
        # it ran showed as published); the file's time for a warehouse no run noted that for
        warehouse_at=landing_read_from(settings) or _mtime(settings.warehouse_path),
        newest_landing_at=newest_landing(settings),
        refusals=recent_refusals(settings, at),
        stripe_sync=stripe_sync_status(settings),
    )
