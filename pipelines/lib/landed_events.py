"""The landing zone's Stripe events seen from the Stripe API side: which event ids are landed already,
and landing more (events read from the API, object snapshots) the way the receiver lands webhooks.

Landed ids are what completed loads put in the lake's raw.stripe_events (one Parquet column, read
with the `since` filter pushed down) plus the landing lines no completed load has read yet (past
the offsets those loads recorded). The offsets are read before the lake's ids, so a load completing
in between can only make an id appear twice, never be missed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from core.landing_file import LandingFiles, file_prefix
from core.landing_records import encode_record, stripe_event_record
from core.settings import Settings
from pipelines.lake import Lake
from pipelines.lib.duck import lake_connection, parquet_list
from pipelines.lib.loading import loaded_offsets
from pipelines.sources.landing.helpers import iter_new

STREAM = "stripe_events"


def landed_event_ids(
    settings: Settings, since: datetime | None = None, any_time: tuple[str, ...] = ()
) -> set[str]:
    """Ids of the Stripe events landed so far; from the lake only those created at or after `since`,
    and those of the types `any_time` whatever their time (an event landed but not loaded yet counts
    whatever its time)."""
    lake = Lake(settings.lake_dir)
    with lake_connection(settings) as con:
        offsets = loaded_offsets(con, lake).get(STREAM, {})
        ids: set[str] = set()
        files = lake.raw(STREAM).paths()
        if files:
            where, params = "", []
            if since is not None:
                where, params = (
                    "where created_at >= ? or list_contains(?, event_type)",
                    [since, list(any_time)],
                )
            rows = con.execute(
                f"select event_id from read_parquet({parquet_list(files)}) {where}", params
            ).fetchall()
            ids.update(row[0] for row in rows)
    for chunk in iter_new(STREAM, settings.landing_dir / STREAM, dict(offsets)):
        ids.update(chunk.records["event_id"].to_list())
    return ids


class EventLanding:
    """Appends Stripe events to this process's own `stripe_events` landing files, a batch per
    write + fsync, so an interruption keeps whole batches and never half an event."""

    def __init__(self, settings: Settings, source: str) -> None:
        self.source = source
        self._files = LandingFiles(settings.landing_dir, STREAM, file_prefix(os.getpid()))
        self.paths: set[Path] = set()

    def land(self, events: Iterable[dict[str, Any]]) -> int:
        """Land `events` (Stripe event dicts) in one commit; how many were landed."""
        received_at = datetime.now(UTC)
        lines = [encode_record(stripe_event_record(e, _json(e), received_at, self.source)) for e in events]
        if lines:
            self.paths.add(self._files.commit(b"".join(lines)))
        return len(lines)

    def close(self) -> None:
        self._files.close()


def _json(event: dict[str, Any]) -> str:
    """The event as compact JSON (the standard library for what orjson refuses: integers over 64 bits)."""
    try:
        return orjson.dumps(event).decode()
    except TypeError:
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False)
