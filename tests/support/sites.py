"""Attro data directories for tests: a program file, a landing zone, runs, and the published warehouse.

`base_story` lands January to March 2026 on the demo program; sites are copied, never changed in place.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from core.click_ids import new_click_id
from core.settings import Settings
from pipelines.run import run_pipeline
from simulator.landing import LandingZone
from simulator.stripe import Event, Flow, StripeSim
from tests.support.clock import utc
from tests.support.paths import DEMO_PROGRAM

NOW1 = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # January and February over; Feb has a pending line


@dataclass
class Site:
    """One Attro data directory with its program file, and the ids of what the story landed."""

    root: Path
    ids: dict[str, str] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    sim: StripeSim = field(default_factory=lambda: StripeSim(seed=5, livemode=True))

    @property
    def settings(self) -> Settings:
        return Settings(data_dir=self.root / "data", program=self.root / "program.toml")

    def land_events(
        self, events: Iterable[Event], received_at: datetime, name: str = "host-1-0000aaaa"
    ) -> None:
        LandingZone(self.settings).events(events, received_at, name=name)

    def land_click(self, link_code: str, clicked_at: datetime) -> str:
        click_id = new_click_id(clicked_at)
        return LandingZone(self.settings).click(link_code, clicked_at, click_id, utm={"source": "blog"})

    def land(self, flow: Flow) -> Flow:
        """Land a flow's events on the day each was created (one delivery each)."""
        for event in flow.events:
            self.land_events([event], datetime.fromtimestamp(event["created"], UTC))
        return flow

    def run(self, now: datetime) -> dict[str, Any]:
        return run_pipeline(self.settings, now=now)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.settings.warehouse_path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def frame(self, sql: str) -> pl.DataFrame:
        con = duckdb.connect(str(self.settings.warehouse_path), read_only=True)
        try:
            frame = con.sql(sql).pl()
        finally:
            con.close()
        return frame.with_columns(
            [
                pl.col(n).dt.convert_time_zone("UTC")
                for n, t in frame.schema.items()
                if isinstance(t, pl.Datetime) and t.time_zone
            ]
        )

    def lines(self, where: str = "true") -> pl.DataFrame:
        return self.frame(f"select * from marts.commission_lines where {where} order by line_id")

    def statements(self, where: str = "true") -> pl.DataFrame:
        return self.frame(
            f"select * from marts.affiliate_statements where {where} order by period, affiliate_id, currency"
        )


def copy_site(site: Site, root: Path) -> Site:
    shutil.copytree(site.root, root)
    sim, flows = copy.deepcopy((site.sim, site.flows))  # the copy's later events never touch the original
    return Site(root, dict(site.ids), flows, sim)


def base_story(site: Site) -> None:
    """January to March 2026 on the demo program (pro-20 jane 20 % 12 months, holding 30; lifetime-10
    omar 10 %, holding 30; ebook-flat lena 500 usd first payment, holding 14):

    Jan 10 jane subscription 99.00 usd → 1980     Feb 3  lena ebook 25.00 → 500, refunded Feb 5: void
    Jan 12 lena ebook 25.00 usd → 500             Feb 10 jane renewal → 1980 (payable Mar 12)
    Jan 20 omar 5000 jpy → 500 jpy                Feb 25 omar 30.00 usd → 300 (payable Mar 27: pending)
    Jan 21 omar 12.345 kwd → 1235 (1234.5 up)     Mar 10 jane renewal → 1980 (pending)
    Jan 22 omar 40.00 usd → 400
    """
    sim, ids = site.sim, site.ids

    def click(link: str, when: str) -> str:
        return site.land_click(link, utc(when) - timedelta(days=1))

    sub = site.land(
        sim.subscription_checkout(utc("2026-01-10"), 9900, click_id=click("jane-pro", "2026-01-10"))
    )
    assert sub.sub is not None and sub.invoice is not None
    ids["sub_first_invoice"] = sub.invoice
    ids["sub"] = sub.subscription or ""
    ebook = site.land(
        sim.one_time_checkout(utc("2026-01-12"), 2500, click_id=click("lena-ebook", "2026-01-12"))
    )
    ids["ebook_jan"] = ebook.payment_intent or ""
    site.flows["ebook_jan"] = ebook
    for key, when, amount, currency in (
        ("omar_jpy", "2026-01-20", 5000, "jpy"),
        ("omar_kwd", "2026-01-21", 12345, "kwd"),
        ("omar_usd", "2026-01-22", 4000, "usd"),
    ):
        flow = sim.one_time_checkout(utc(when), amount, currency, click_id=click("omar-all", when))
        site.land(flow)
        ids[key] = flow.payment_intent or ""
        site.flows[key] = flow
    ebook_feb = site.land(
        sim.one_time_checkout(utc("2026-02-03"), 2500, click_id=click("lena-ebook", "2026-02-03"))
    )
    ids["ebook_feb"] = ebook_feb.payment_intent or ""
    site.land(sim.refund(ebook_feb, utc("2026-02-05")))
    renewal = site.land(sim.renewal(sub.sub, utc("2026-02-10")))
    ids["renewal_feb"] = renewal.invoice or ""
    site.flows["renewal_feb"] = renewal
    late = site.land(sim.one_time_checkout(utc("2026-02-25"), 3000, click_id=click("omar-all", "2026-02-25")))
    ids["omar_feb"] = late.payment_intent or ""
    site.land(sim.renewal(sub.sub, utc("2026-03-10")))
    site.flows["sub"] = sub


def landing_only(site: Site, root: Path) -> Site:
    fresh = Site(root)
    (root / "data").mkdir(parents=True)
    shutil.copyfile(site.root / "program.toml", root / "program.toml")
    shutil.copytree(site.settings.landing_dir, fresh.settings.landing_dir)
    return fresh


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path → bytes): to prove that nothing changed on disk."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def new_settings(root: Path) -> Settings:
    """Settings with data under `root/data` and a copy of the demo program file."""
    root.mkdir(parents=True, exist_ok=True)
    program = root / "program.toml"
    shutil.copyfile(DEMO_PROGRAM, program)
    return Settings(data_dir=root / "data", program=program)


def landed_events(settings: Settings) -> list[Event]:
    """Every Stripe event in the landing zone (its payload), in landing order."""
    events = []
    for path in sorted((settings.landing_dir / "stripe_events").rglob("*.ndjson")):
        events += [json.loads(json.loads(line)["payload"]) for line in path.read_text().splitlines() if line]
    return events


def drop_landed(settings: Settings, dropped: Callable[[Event], bool]) -> list[Event]:
    """Remove from the landing zone the events `dropped` picks (webhooks that never arrived); returns
    them."""
    gone: list[Event] = []
    for path in sorted((settings.landing_dir / "stripe_events").rglob("*.ndjson")):
        kept = []
        for line in path.read_text().splitlines(keepends=True):
            event = json.loads(json.loads(line)["payload"])
            if dropped(event):
                gone.append(event)
            else:
                kept.append(line)
        path.write_text("".join(kept))
    return gone


def with_stripe_api(settings: Settings, url: str, key: str | None) -> Settings:
    """The same settings reading Stripe's API at `url` with `key`."""
    return settings.model_copy(update={"stripe_api_base": url, "stripe_api_key": key})
