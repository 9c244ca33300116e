"""Finance test fixtures: a model-level ledger book (Stripe flows → ledger lines) and shared pipeline sites.

Helpers reach tests through fixtures (never imports), so the suite runs under --import-mode=importlib.
Pipeline runs are slow (~3 s), so the landed base site and its "January closed" copy are built once per
session; tests that change a site work on a copy (`copy_site`).
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from attro.periods import close_period
from core.click_ids import new_click_id
from core.program import Program, load_program
from core.settings import Settings
from models.adjustments import adjustment_lines, build_adjustments, void_fully_reversed
from models.attribution import attribute
from models.clicks import CLICK_SCHEMA, build_clicks
from models.commissions import OFFER_SCHEMA, TIER_SCHEMA, commission_lines, evaluate_conversions
from models.events import payment_observations, raw_events_frame
from models.payments import build_payments
from models.periods import LEDGER_SCHEMA, apply_closed_periods
from pipelines.run import run_pipeline
from pipelines.sources.program import program_tables
from receiver.click_record import click_record
from receiver.records import dumps_record
from receiver.stripe_events import stripe_event_record
from simulator.stripe import Flow, StripeSim, encode

REPO = Path(__file__).resolve().parents[2]
DEMO_PROGRAM = REPO / "data" / "program.toml"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
Event = dict[str, Any]


def utc(text: str) -> datetime:
    """'2026-01-10' or '2026-01-10T09:30' as a UTC datetime (dates at 10:00, a quiet business hour)."""
    value = datetime.fromisoformat(text if "T" in text else text + "T10:00")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@pytest.fixture(scope="session")
def at() -> Callable[[str], datetime]:
    """`at('2026-01-10')`: a UTC datetime (10:00 when only a date is given)."""
    return utc


# the model-level book --------------------------------------------------------------------


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
    offers = pl.from_arrow(tables["offers"]).cast(OFFER_SCHEMA)  # type: ignore[union-attr]
    tiers = pl.from_arrow(tables["offer_tiers"]).cast(TIER_SCHEMA)  # type: ignore[union-attr]
    return offers, tiers  # type: ignore[return-value]


def compute_ledger(
    program: Program,
    events: list[Event],
    clicks: list[dict[str, Any]],
    now: datetime,
    frozen: pl.DataFrame | None = None,
    closed: set[str] | None = None,
) -> Ledger:
    """The pipeline's model steps, in its order (pipelines/assets.py), on in-memory frames."""
    offers, tiers = _program_frames(program)
    raw = raw_events_frame(events)
    observations, _rejected = payment_observations(raw)
    payments = build_payments(observations)
    adjustments, _rejected = build_adjustments(raw, payments)
    click_frame = build_clicks(
        pl.DataFrame(clicks, schema=CLICK_SCHEMA) if clicks else pl.DataFrame(schema=CLICK_SCHEMA)
    )
    conversions, _unattributed = attribute(payments, click_frame, offers)
    evaluated = evaluate_conversions(conversions, offers, tiers).sort("occurred_at", "payment_id")
    commissions = commission_lines(evaluated, now)
    reversals = adjustment_lines(adjustments, commissions, payments, now)
    computed = void_fully_reversed(pl.concat([commissions, reversals]))
    frozen = frozen if frozen is not None else pl.DataFrame(schema=LEDGER_SCHEMA)
    lines = apply_closed_periods(computed, frozen, closed or set(), now)
    return Ledger(evaluated, lines)


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

    def ledger(self, now: datetime, *, with_closes: bool = True) -> Ledger:
        program = self.program
        frozen, closed = pl.DataFrame(schema=LEDGER_SCHEMA), set[str]()
        for period, when in self.closes if with_closes else []:
            arrived = [e for t, e in self.arrivals if t <= when]
            snapshot = compute_ledger(program, arrived, self.clicks, when, frozen, closed)
            frozen = pl.concat([frozen, snapshot.lines.filter(pl.col("period") == period)])
            closed.add(period)
        events = [e for _t, e in sorted(self.arrivals, key=lambda item: item[0])]
        return compute_ledger(program, events, self.clicks, now, frozen, closed)


@pytest.fixture
def book() -> Callable[..., Book]:
    """`book(offer_terms, ...)`: a new Book over offers (dicts as in the program file; `id` defaults
    to 'case', `name` filled in); links `jane-<offer>` and `omar-<offer>` exist for each."""

    def make(*offers: dict[str, Any]) -> Book:
        filled = [{"id": "case", "name": "Offer under test", **o} for o in offers]
        return Book(filled)

    return make


# pipeline sites ---------------------------------------------------------------------------

NOW1 = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # January and February over; Feb has a pending line


def event_line(event: Event, received_at: datetime) -> str:
    """The stripe_events landing line the receiver writes for a verified delivery of `event`."""
    return dumps_record(stripe_event_record(event, encode(event).decode("utf-8"), received_at))


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
        path = self.settings.landing_dir / "stripe_events" / f"date={received_at:%Y-%m-%d}" / f"{name}.ndjson"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write("".join(event_line(e, received_at) for e in events))

    def land_click(self, link_code: str, clicked_at: datetime) -> str:
        settings = self.settings
        link = load_program(settings.program_path).link(link_code)
        assert link is not None, link_code
        click_id = new_click_id(clicked_at)
        record = click_record(
            click_id=click_id,
            clicked_at=clicked_at,
            source="redirect",
            link=link,
            ip_hash="ab" * 32,
            user_agent=BROWSER_UA,
            referer="https://blog.example/review",
            landing_url=f"https://yourapp.example/?rd_click_id={click_id}",
            utm={"source": "blog"},
            received_at=clicked_at,
        )
        path = settings.landing_dir / "clicks" / f"date={clicked_at:%Y-%m-%d}" / "host-1-0000aaaa.ndjson"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(dumps_record(record))
        return click_id

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


def _copy(site: Site, root: Path) -> Site:
    shutil.copytree(site.root, root)
    sim, flows = copy.deepcopy((site.sim, site.flows))  # the copy's later events never touch the original
    return Site(root, dict(site.ids), flows, sim)


def _base_story(site: Site) -> None:
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
    late = site.land(sim.one_time_checkout(utc("2026-02-25"), 3000, click_id=click("omar-all", "2026-02-25")))
    ids["omar_feb"] = late.payment_intent or ""
    site.land(sim.renewal(sub.sub, utc("2026-03-10")))
    site.flows["sub"] = sub


@pytest.fixture(scope="session")
def base_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The base story landed and run at NOW1 (2026-03-20 12:00 UTC). Read it, never change it."""
    root = tmp_path_factory.mktemp("base") / "site"
    root.mkdir()
    shutil.copyfile(DEMO_PROGRAM, root / "program.toml")
    site = Site(root)
    _base_story(site)
    site.run(NOW1)
    return site


@pytest.fixture(scope="session")
def closed_jan_site(base_site: Site, tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The base site with 2026-01 closed at NOW1 and the warehouse republished. Read it, never change it."""
    site = _copy(base_site, tmp_path_factory.mktemp("closed-jan") / "site")
    close_period(site.settings, "2026-01", now=NOW1)
    site.run(NOW1)
    return site


@pytest.fixture
def copy_site(tmp_path: Path) -> Callable[[Site], Site]:
    """`copy_site(site)`: a private copy of a site (data dir and program file) to change freely."""
    count = iter(range(100))
    return lambda site: _copy(site, tmp_path / f"copy-{next(count)}")


@pytest.fixture(scope="session")
def clone_site() -> Callable[[Site, Path], Site]:
    """`clone_site(site, root)`: a copy of the site at `root` (for module-scoped fixtures)."""
    return _copy


def _landing_only(site: Site, root: Path) -> Site:
    fresh = Site(root)
    (root / "data").mkdir(parents=True)
    shutil.copyfile(site.root / "program.toml", root / "program.toml")
    shutil.copytree(site.settings.landing_dir, fresh.settings.landing_dir)
    return fresh


@pytest.fixture
def landing_only(tmp_path: Path) -> Callable[[Site], Site]:
    """`landing_only(site)`: a new site with the same program file and landing zone, nothing else
    (no build, no warehouse, no closed periods): what a full recomputation starts from."""
    return lambda site: _landing_only(site, tmp_path / "landing-only")


@pytest.fixture(scope="session")
def now1() -> datetime:
    return NOW1


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path → bytes): to prove that nothing changed on disk."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def snapshot_tree() -> Callable[[Path], dict[str, bytes]]:
    """`snapshot_tree(root)`: relative path → bytes of every file under root."""
    return tree_bytes
