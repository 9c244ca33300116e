"""Healing missed webhooks (`attro stripe sync`): the events Stripe's API lists that the landing zone
lacks are landed, marked `source: api`, in the landing format webhooks use.

Only the event types the rules consume are listed (the webhook endpoint's subscription), created from
`since` (default: 30 days ago, all Stripe keeps) up to a few minutes ago (younger events are still
on their way by webhook). An event already landed — by webhook, by an earlier sync — is counted and
skipped, so what a sync lands is what the webhooks missed. Each page is landed with one write and
fsync; an interrupted sync keeps the pages it landed and the next one skips them. Every sync that
reached Stripe writes what it found to `$ATTRO_DATA_DIR/monitoring/stripe_sync.json`, which the
admin's health page shows.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from core.contracts import CONSUMED_EVENT_TYPES
from core.landing_records import API
from core.settings import Settings
from pipelines.lib.landed_events import EventLanding, landed_event_ids
from pipelines.lib.warehouse import exclusive
from pipelines.sources.stripe_api.helpers import StripeApi, StripeApiError, connect, list_objects
from pipelines.sources.stripe_api.settings import EVENTS_HORIZON, MAX_TYPES_PER_LIST, PAGE_SIZE, SYNC_GRACE

SYNC_LOCK_SECONDS = 3600.0  # a 30-day sync of a busy account, rate limited, takes minutes


@dataclass
class SyncReport:
    """What a sync saw and did, per event type."""

    since: datetime
    until: datetime
    seen: Counter[str] = field(default_factory=Counter)
    landed: Counter[str] = field(default_factory=Counter)
    files: set[Path] = field(default_factory=set)

    @property
    def already_landed(self) -> Counter[str]:
        return self.seen - self.landed

    @property
    def missed_by_webhooks(self) -> int:
        """Events no webhook had landed: the number ops watch (0 when every webhook arrived)."""
        return sum(self.landed.values())

    def metadata(self) -> dict[str, Any]:
        """The report as Dagster metadata."""
        return {
            "missed_by_webhooks": self.missed_by_webhooks,
            "events_seen": sum(self.seen.values()),
            "already_landed": sum(self.already_landed.values()),
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            **{f"missed: {event_type}": count for event_type, count in sorted(self.landed.items())},
        }


class SyncFailed(StripeApiError):
    """Stripe failed mid-sync; `report` holds what was landed before (the next sync goes on)."""

    def __init__(self, cause: StripeApiError, report: SyncReport) -> None:
        super().__init__(str(cause), cause.status)
        self.report = report


def _unix(at: datetime) -> int:
    return int(at.timestamp())


def _batches(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while batch := list(islice(items, size)):
        yield batch


def _type_groups(types: Sequence[str]) -> list[list[str]]:
    return [list(types[i : i + MAX_TYPES_PER_LIST]) for i in range(0, len(types), MAX_TYPES_PER_LIST)]


def _land_page(
    page: list[dict[str, Any]], known: set[str], landing: EventLanding, report: SyncReport
) -> None:
    """Land the page's events that are not landed yet (one commit); count what was seen and landed."""
    new = [event for event in page if event["id"] not in known]
    landing.land(new)
    known.update(event["id"] for event in new)
    report.seen.update(event["type"] for event in page)
    report.landed.update(event["type"] for event in new)


def sync_events(
    settings: Settings,
    since: datetime | None = None,
    now: datetime | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[SyncReport], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> SyncReport:
    """Land the consumed events Stripe lists from `since` on that the landing zone lacks.

    `progress(report)` after each page is landed; `on_wait(message)` once, when another sync runs and
    this one waits for it. NoApiKey without a key; SyncFailed (with the partial report) when Stripe
    fails mid-way; PipelineBusyError when another sync still runs after SYNC_LOCK_SECONDS.
    """
    now = now or datetime.now(UTC)
    report = SyncReport(since=since or now - EVENTS_HORIZON, until=now - SYNC_GRACE)
    api = connect(settings)
    # One sync at a time (the daily schedule and one by hand): the second waits, then finds what the
    # first landed, and reports only what is still missing.
    with exclusive(settings.build_dir / ".stripe_sync.lock", "stripe sync", SYNC_LOCK_SECONDS, on_wait):
        return _sync(settings, api, report, sleep, progress)


def _sync(
    settings: Settings,
    api: StripeApi,
    report: SyncReport,
    sleep: Callable[[float], None],
    progress: Callable[[SyncReport], None] | None,
) -> SyncReport:
    known = landed_event_ids(settings, report.since)
    landing = EventLanding(settings, API)
    created = {"gte": _unix(report.since), "lt": _unix(report.until)}
    failed: StripeApiError | None = None
    try:
        with api.errors("events"):
            for types in _type_groups(CONSUMED_EVENT_TYPES):
                events = list_objects(
                    api.list_call("events"), {"created": created, "types": types}, sleep=sleep
                )
                for page in _batches(events, PAGE_SIZE):
                    _land_page(page, known, landing, report)
                    if progress is not None:
                        progress(report)
    except StripeApiError as exc:
        failed = exc
    finally:
        report.files = landing.paths
        landing.close()
    record_status(settings, report, datetime.now(UTC), failed=str(failed) if failed else None)
    if failed is not None:
        raise SyncFailed(failed, report) from None
    return report


def status_path(settings: Settings) -> Path:
    return settings.monitoring_dir / "stripe_sync.json"


def record_status(
    settings: Settings, report: SyncReport, finished_at: datetime, failed: str | None = None
) -> None:
    """Keep the last sync's report (and its error, when Stripe failed mid-way) for the health page.

    Monitoring, not data: written whole by a rename, not fsynced; a lost file only blanks the page.
    """
    path = status_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    status = {"finished_at": finished_at.astimezone(UTC).isoformat(), "failed": failed, **report.metadata()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(status, indent=1))
    os.replace(tmp, path)
