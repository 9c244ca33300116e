"""Pipeline test fixtures: settings in tmp_path, landing files written as the receiver writes them, runs.

Helpers reach tests through fixtures (never imports), so the suite runs under --import-mode=importlib.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.click_ids import new_click_id
from core.program import load_program
from core.settings import Settings
from pipelines.run import run_pipeline
from simulator.landing import LANDING_FILE, LandingZone, click_line, event_line
from simulator.stripe import StripeSim, encode
from tests.support.sites import new_settings

AT = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # the scenario's first payment
NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # "now" for every run: some lines approved, some pending

Event = dict[str, Any]


class Landing(LandingZone):
    """The landing zone with this folder's defaults: delivered at AT, in date=2026-03-02, one file."""

    def path(  # type: ignore[override]
        self, stream: str, name: str = LANDING_FILE, day: str = "2026-03-02"
    ) -> Path:
        return super().path(stream, day=day, name=name)

    def append(  # type: ignore[override]
        self, stream: str, data: str | bytes, name: str = LANDING_FILE, day: str = "2026-03-02"
    ) -> Path:
        return super().append(stream, data, day=day, name=name)

    def events(  # type: ignore[override]
        self,
        events: Iterable[Event],
        received_at: datetime = AT,
        name: str = LANDING_FILE,
        day: str = "2026-03-02",
    ) -> Path:
        return super().events(events, received_at, day=day, name=name)

    def click(  # type: ignore[override]
        self,
        link_code: str,
        clicked_at: datetime,
        click_id: str | None = None,
        name: str = LANDING_FILE,
        day: str = "2026-03-02",
    ) -> str:
        utm = {"source": "blog", "campaign": "spring"}
        return super().click(
            link_code, clicked_at, click_id or new_click_id(clicked_at), day=day, name=name, utm=utm
        )


@dataclass
class Scenario:
    """A small affiliate program's landing zone, as file bytes, and what it should produce."""

    files: dict[str, bytes]  # path relative to landing/ -> final content, in landing order
    subscription_id: str
    one_time_payment_id: str
    no_click_charge_id: str
    duplicated_event_id: str
    event_count: int  # distinct events
    rejected_lines: int
    click_count: int
    payment_count: int
    conversion_count: int

    def write(self, settings: Settings, share: float = 1.0) -> None:
        """Land the landing history up to `share` of its bytes: files in landing order, so a cut
        mid-line leaves one torn trailing line, as a writer caught mid-append would."""
        budget = int(sum(len(c) for c in self.files.values()) * share)
        for rel, content in self.files.items():
            path = settings.landing_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content[:budget])
            budget = max(0, budget - len(content))


def _build_scenario(settings: Settings) -> Scenario:
    """A subscription with two renewals, a one-time checkout with a partial refund, a payment
    without a click, and a renewal delivered twice (in two files, on two days); live mode."""
    sim = StripeSim(seed=42, livemode=True)
    landing = Landing(settings)
    sub_click = landing.click("jane-pro", AT - timedelta(days=3), day="2026-02-27")
    ebook_click = landing.click("lena-ebook", AT - timedelta(days=1), day="2026-02-27")
    landing.click("omar-all", AT - timedelta(days=2), day="2026-02-27")  # a click that never converts

    sub = sim.subscription_checkout(AT, 9900, click_id=sub_click)
    assert sub.sub is not None and sub.subscription is not None
    one = sim.one_time_checkout(AT + timedelta(hours=2), 2500, click_id=ebook_click)
    bare = sim.bare_charge(AT + timedelta(hours=3), 1200)
    refund = sim.refund(one, AT + timedelta(days=4), 1000)
    renewal_1 = sim.renewal(sub.sub, AT + timedelta(days=31))
    renewal_2 = sim.renewal(sub.sub, AT + timedelta(days=62))
    duplicated = renewal_1.first("invoice.paid")

    first_day = [*sub.events, *one.events, *bare.events, *refund.events]
    first_file = {"day": "2026-03-02", "name": "host-1-0000aaaa"}
    landing.events(first_day[:5], AT + timedelta(seconds=5), **first_file)
    landing.append("stripe_events", '{"event_id": "evt_cut_off", "event_ty\n', **first_file)  # corrupt
    landing.events(first_day[5:], AT + timedelta(seconds=6), **first_file)
    landing.events(renewal_1.events, AT + timedelta(days=31), day="2026-04-02", name="host-2-0000bbbb")
    # Stripe retries the renewal's invoice.paid a month later, to a receiver process with another file.
    landing.events(
        [duplicated, *renewal_2.events], AT + timedelta(days=62), day="2026-05-03", name="host-3-0000cccc"
    )
    root = settings.landing_dir
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.ndjson"))}
    events = [*first_day, *renewal_1.events, *renewal_2.events]
    assert one.payment_intent is not None and bare.charge is not None
    return Scenario(
        files=files,
        subscription_id=sub.subscription,
        one_time_payment_id=one.payment_intent,
        no_click_charge_id=bare.charge,
        duplicated_event_id=duplicated["id"],
        event_count=len({e["id"] for e in events}),
        rejected_lines=1,
        click_count=3,
        payment_count=5,  # subscription invoices 1-3, the one-time PaymentIntent, the bare charge
        conversion_count=4,
    )


def warehouse_tables(path: Path, schemas: tuple[str, ...] = ("raw", "program", "marts")) -> dict[str, list]:
    """Every table of `schemas` in a DuckDB file (dlt bookkeeping left out), rows sorted."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_schema in (select unnest(?)) and table_name not like '\\_dlt%' escape '\\'"
            " order by 1",
            [list(schemas)],
        ).fetchall()
        return {name: sorted(con.execute(f"select * from {name}").fetchall(), key=repr) for (name,) in names}
    finally:
        con.close()


def table_columns(path: Path) -> dict[str, list[str]]:
    """Column names per qualified table, in order."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "select table_schema || '.' || table_name, column_name from information_schema.columns"
            " order by table_schema, table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns


class Kit:
    """What the pipeline tests share: builders for settings, landing files, runs and table reads."""

    at = AT
    now = NOW

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def settings(self, name: str = "site") -> Settings:
        return new_settings(self.tmp_path / name)

    def landing(self, settings: Settings) -> Landing:
        return Landing(settings)

    def sim(self, seed: int = 0, livemode: bool = True) -> StripeSim:
        return StripeSim(seed=seed, livemode=livemode)

    def event_line(self, event: Event, received_at: datetime = AT) -> str:
        return event_line(event, received_at)

    def click_line(
        self,
        settings: Settings,
        click_id: str,
        link_code: str,
        clicked_at: datetime,
        received_at: datetime | None = None,
    ) -> str:
        """A redirect's landing line (landed when clicked, unless `received_at` says otherwise)."""
        link = load_program(settings.program_path).link(link_code)
        assert link is not None, link_code
        line = click_line(link, click_id, clicked_at, utm={"source": "blog", "campaign": "spring"})
        if received_at is None:
            return line
        record = json.loads(line) | {"received_at": received_at.isoformat().replace("+00:00", "Z")}
        return json.dumps(record) + "\n"

    def body_text(self, event: Event) -> str:
        """The webhook body as the receiver landed it (Stripe's indented JSON)."""
        return encode(event).decode("utf-8")

    def tables(self, path: Path, schemas: tuple[str, ...] = ("raw", "program", "marts")) -> dict[str, list]:
        return warehouse_tables(path, schemas)

    def columns(self, path: Path) -> dict[str, list[str]]:
        return table_columns(path)

    def run(self, settings: Settings, force: bool = True) -> dict[str, Any]:
        """One whole pipeline run with the pinned `now` (by default even when nothing changed)."""
        return run_pipeline(settings, now=NOW, force=force)


@pytest.fixture
def kit(tmp_path: Path) -> Kit:
    return Kit(tmp_path)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The scenario's landing bytes, built once per module (click ids are random, so share them)."""
    return _build_scenario(new_settings(tmp_path_factory.mktemp("scenario")))


@dataclass
class FullRun:
    """The scenario landed whole and run once: its settings, report and published tables."""

    settings: Settings
    report: dict[str, Any]
    tables: dict[str, list]


@pytest.fixture(scope="module")
def full_run(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> FullRun:
    settings = new_settings(tmp_path_factory.mktemp("full"))
    scenario.write(settings)
    report = run_pipeline(settings, now=NOW)
    return FullRun(settings, report, warehouse_tables(settings.warehouse_path))
