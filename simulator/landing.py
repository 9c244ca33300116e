"""Landing data as the receiver writes it, without a receiver: event and click lines, files, raw frames.

For tests and benchmarks that start from the landing zone (or from raw tables) rather than HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from core.contracts import RAW_EVENT, UTM_FIELDS
from core.landing_records import dumps_record, stripe_event_record
from core.program import Link, load_program
from core.settings import Settings
from pipelines.staging.stage import stage_frame
from receiver.click_record import click_record
from simulator.stripe import Event, encode

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
LANDING_FILE = "host-1-0000aaaa"  # <host>-<pid>-<8 hex>, the receiver's file naming


def event_line(event: Event, received_at: datetime) -> str:
    """The stripe_events landing line the receiver writes for a verified delivery of `event`."""
    return dumps_record(stripe_event_record(event, encode(event).decode("utf-8"), received_at))


def click_line(
    link: Link,
    click_id: str,
    clicked_at: datetime,
    *,
    utm: dict[str, str | None] | None = None,
    user_agent: str = BROWSER_UA,
    referer: str | None = "https://blog.example/review",
    landing_url: str | None = None,
) -> str:
    """The clicks landing line the receiver writes for a redirect through `link`."""
    record = click_record(
        click_id=click_id,
        clicked_at=clicked_at,
        source="redirect",
        link=link,
        ip_hash="ab" * 32,
        user_agent=user_agent,
        referer=referer,
        landing_url=landing_url or f"https://yourapp.example/?rd_click_id={click_id}",
        utm={name: (utm or {}).get(name) for name in UTM_FIELDS},
        received_at=clicked_at,
    )
    return dumps_record(record)


@dataclass
class LandingZone:
    """Writes landing files under one data dir: `landing/<stream>/date=<day>/<name>.ndjson`."""

    settings: Settings

    def path(self, stream: str, day: str, name: str = LANDING_FILE) -> Path:
        return self.settings.landing_dir / stream / f"date={day}" / f"{name}.ndjson"

    def append(self, stream: str, data: str | bytes, day: str, name: str = LANDING_FILE) -> Path:
        """Append raw text or bytes (torn lines included) to a landing file; returns its path."""
        path = self.path(stream, day=day, name=name)  # by name: subclasses reorder them
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        return path

    def events(
        self, events: Iterable[Event], received_at: datetime, day: str | None = None, name: str = LANDING_FILE
    ) -> Path:
        """Land events as delivered at `received_at` (in that day's folder unless `day` says otherwise)."""
        lines = "".join(event_line(e, received_at) for e in events)
        return self.append("stripe_events", lines, day=day or f"{received_at:%Y-%m-%d}", name=name)

    def click(
        self,
        link_code: str,
        clicked_at: datetime,
        click_id: str,
        day: str | None = None,
        name: str = LANDING_FILE,
        **fields: Any,
    ) -> str:
        """Land one redirect click through `link_code` (a link of the program file); returns its id."""
        link = load_program(self.settings.program_path).link(link_code)
        assert link is not None, link_code
        line = click_line(link, click_id, clicked_at, **fields)
        self.append("clicks", line, day=day or f"{clicked_at:%Y-%m-%d}", name=name)
        return click_id


def raw_events_frame(events: list[Event], received_at: datetime | None = None) -> pl.DataFrame:
    """Stripe event dicts as rows of raw.stripe_events, as loading them would give."""
    received = received_at or datetime.now(UTC)
    rows = [
        {
            "event_id": e["id"],
            "event_type": e["type"],
            "api_version": e.get("api_version"),
            "livemode": bool(e.get("livemode")),
            "created_at": datetime.fromtimestamp(e["created"], tz=UTC),
            "received_at": received,
            "payload": encode(e).decode("utf-8"),
            "source": "webhook",
        }
        for e in events
    ]
    return pl.DataFrame(rows, schema=RAW_EVENT)


def staged(events: list[Event], received_at: datetime | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(staging.stripe_objects, staging.rejected_events) of Stripe event dicts, decoded as a run would."""
    return stage_frame(raw_events_frame(events, received_at))
