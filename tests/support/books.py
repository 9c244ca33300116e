"""A merchant's Stripe history told payment by payment (`Book`), and what the rules make of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from core.click_ids import new_click_id
from core.contracts import LEDGER_LINE, OFFER, OFFER_TIER, RAW_CLICK, STATEMENT, STRIPE_OBJECT, conform, empty
from core.program import Program
from core.state.closed_periods import ClosedPeriods
from models.marts import MartInputs, Marts, build_marts
from pipelines.lake import LakeTable
from pipelines.sources.program import program_tables
from simulator.landing import BROWSER_UA, staged
from simulator.stripe import Event, Flow, StripeSim


@dataclass
class Ledger:
    """What the rules made of a book: evaluated conversions (payment order) and the ledger lines."""

    evaluated: pl.DataFrame
    lines: pl.DataFrame


def _program(offers: list[dict[str, Any]]) -> Program:
    affiliates = [{"id": a, "name": a.title()} for a in ("jane", "omar")]
    links = [
        {"code": f"{a}-{o['id']}", "affiliate": a, "offer": o["id"], "destination": "https://shop.example/"}
        for o in offers
        for a in ("jane", "omar")
    ]
    return Program.model_validate({"affiliates": affiliates, "offers": offers, "links": links})


def _program_frames(program: Program) -> tuple[pl.DataFrame, pl.DataFrame]:
    tables = program_tables(program)
    offers = pl.from_arrow(tables["offers"]).cast(OFFER)  # type: ignore[union-attr,arg-type]
    tiers = pl.from_arrow(tables["offer_tiers"]).cast(OFFER_TIER)  # type: ignore[union-attr,arg-type]
    return offers, tiers  # type: ignore[return-value]


def compute_ledger(
    program: Program,
    events: list[Event],
    clicks: list[dict[str, Any]],
    now: datetime,
    frozen: pl.DataFrame | None = None,
    closed: set[str] | None = None,
) -> Ledger:
    """The rules (models.marts.build_marts) on in-memory events and clicks."""
    marts = compute_marts(program, events, clicks, now, frozen, closed)
    return Ledger(marts.conversions, marts.commission_lines)


def _lake_scan(objects: pl.DataFrame, folder: Path) -> pl.LazyFrame:
    """The objects as two loads' lake files, the second written as an older or newer staging would (its
    columns in another order, the ones it never filled absent), scanned as the pipeline scans them."""
    half = objects.height // 2
    first, second = objects.head(half), objects.tail(objects.height - half)
    folder.mkdir(parents=True, exist_ok=True)
    first.write_parquet(folder / "1700000000.000001.parquet")
    filled = [name for name in reversed(second.columns) if second[name].null_count() < second.height]
    second.select(filled).write_parquet(folder / "1700000001.000001.parquet")
    return LakeTable(folder).scan(STRIPE_OBJECT)


def compute_marts(
    program: Program,
    events: list[Event],
    clicks: list[dict[str, Any]],
    now: datetime,
    frozen: pl.DataFrame | None = None,
    closed: set[str] | None = None,
    *,
    lake: Path | None = None,
) -> Marts:
    """Every mart of in-memory events and clicks. With `lake`, the staged objects are written there as
    lake files and the rules read the lazy scan of them the pipeline hands them (pipelines/steps.py)."""
    offers, tiers = _program_frames(program)
    closed_periods = ClosedPeriods(
        dict.fromkeys(closed or set(), now),
        frozen if frozen is not None else empty(LEDGER_LINE),
        empty(STATEMENT),
    )
    objects, rejected = staged(events)
    return build_marts(
        MartInputs(
            objects=objects if lake is None else _lake_scan(objects, lake),
            rejected=rejected,
            clicks=conform(pl.DataFrame(clicks, infer_schema_length=None), RAW_CLICK)
            if clicks
            else empty(RAW_CLICK),
            offers=offers,
            tiers=tiers,
            now=now,
            closed=closed_periods,
        )
    )


@dataclass
class Book:
    """A merchant's Stripe history, told payment by payment; `ledger()` runs the commission rules.

    Every event has an arrival time (its creation unless `arrives` says later), so a month closed at
    some time freezes what had arrived by then.
    """

    offers: list[dict[str, Any]]
    sim: StripeSim = field(default_factory=lambda: StripeSim(seed=11, livemode=True))
    arrivals: list[tuple[datetime, Event]] = field(default_factory=list)
    clicks: list[dict[str, Any]] = field(default_factory=list)
    closes: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def program(self) -> Program:
        return _program(self.offers)

    def _land(self, flow: Flow, arrives: datetime | None = None) -> Flow:
        for event in flow.events:
            created = datetime.fromtimestamp(event["created"], UTC)
            self.arrivals.append((max(created, arrives or created), event))
        return flow

    def click(self, when: datetime, affiliate: str = "jane", offer: str | None = None) -> str:
        offer = offer or self.offers[0]["id"]
        click_id = new_click_id(when)
        self.clicks.append(
            {
                "click_id": click_id,
                "clicked_at": when,
                "link_code": f"{affiliate}-{offer}",
                "affiliate_id": affiliate,
                "offer_id": offer,
                "user_agent": BROWSER_UA,
                "is_bot": False,
                "source": "redirect",
            }
        )
        return click_id

    def subscribe(
        self, when: datetime, amount: int, *, affiliate: str = "jane", currency: str = "usd", tax: int = 0
    ) -> Flow:
        click_id = self.click(when - timedelta(days=1), affiliate)
        flow = self.sim.subscription_checkout(when, amount, currency, click_id=click_id, tax_minor=tax)
        return self._land(flow)

    def renew(self, sub: Flow, when: datetime, amount: int | None = None) -> Flow:
        assert sub.sub is not None
        return self._land(self.sim.renewal(sub.sub, when, amount))

    def upgrade(self, sub: Flow, when: datetime, prorated: int, new_amount: int) -> Flow:
        assert sub.sub is not None
        return self._land(self.sim.upgrade(sub.sub, when, prorated, new_amount))

    def buy(
        self,
        when: datetime,
        amount: int,
        *,
        affiliate: str = "jane",
        currency: str = "usd",
        tax: int = 0,
        livemode: bool = True,
    ) -> Flow:
        click_id = self.click(when - timedelta(days=1), affiliate)
        flow = self.sim.one_time_checkout(
            when, amount, currency, click_id=click_id, tax_minor=tax, livemode=livemode
        )
        return self._land(flow)

    def refund(self, paid: Flow, when: datetime, amount: int | None = None, arrives: datetime | None = None):
        return self._land(self.sim.refund(paid, when, amount), arrives)

    def dispute(self, paid: Flow, when: datetime, won_on: datetime | None = None) -> Flow:
        flow = self.sim.dispute(paid, when, outcome="won" if won_on else None, closed_at=won_on)
        return self._land(flow)

    def close(self, period: str, when: datetime) -> None:
        """Close `period` at `when`: its lines as computed then are frozen."""
        self.closes.append((period, when))

    def events(self) -> list[Event]:
        """Every event told so far, in arrival order."""
        return [e for _t, e in sorted(self.arrivals, key=lambda item: item[0])]

    def marts(self, now: datetime, events: list[Event] | None = None, *, lake: Path | None = None) -> Marts:
        """Every mart of the book's events (or of `events`, e.g. snapshots of its objects); `lake`: read
        from lake files there, as the pipeline reads them."""
        events = self.events() if events is None else events
        return compute_marts(self.program, events, self.clicks, now, lake=lake)

    def ledger(self, now: datetime, *, with_closes: bool = True) -> Ledger:
        program = self.program
        frozen, closed = pl.DataFrame(schema=LEDGER_LINE), set[str]()
        for period, when in self.closes if with_closes else []:
            arrived = [e for t, e in self.arrivals if t <= when]
            snapshot = compute_ledger(program, arrived, self.clicks, when, frozen, closed)
            frozen = pl.concat([frozen, snapshot.lines.filter(pl.col("period") == period)])
            closed.add(period)
        events = [e for _t, e in sorted(self.arrivals, key=lambda item: item[0])]
        return compute_ledger(program, events, self.clicks, now, frozen, closed)
