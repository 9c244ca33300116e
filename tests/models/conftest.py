"""Model test fixtures: simulated Stripe flows, clicks, offers, conversions and ledger lines, built small.

Helpers reach tests as fixtures that return factories (not imports), so test modules import nothing
from this folder and the suite runs under `--import-mode=importlib`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from core.click_ids import new_click_id
from core.contracts import ATTRIBUTED_PAYMENT, CLICK, COMMISSION_LINE, OFFER
from core.program import Offer
from models.attribution import attribute
from models.clicks import build_clicks
from models.commissions import evaluate_conversions
from models.events import payment_observations
from models.payments import build_payments
from simulator.dates import add_months
from simulator.landing import staged
from simulator.stripe import Flow, StripeSim

Row = dict[str, Any]
Events = Flow | Iterable[dict[str, Any]]

# The demo program's offers (data/program.toml), the terms most tests speak about.
PRO_20 = {
    "id": "pro-20",
    "type": "percent",
    "percent": 20,
    "recurring": "fixed_period",
    "recurring_months": 12,
    "attribution_window_days": 60,
}
LIFETIME_10 = {
    "id": "lifetime-10",
    "type": "percent",
    "percent": 10,
    "recurring": "lifetime",
    "attribution_window_days": 30,
}
EBOOK_FLAT = {
    "id": "ebook-flat",
    "type": "flat",
    "amount_minor": 500,
    "currency": "usd",
    "recurring": "first_payment",
}
LINK_OF_OFFER = {"pro-20": "jane-pro", "lifetime-10": "omar-all", "ebook-flat": "lena-ebook"}


@pytest.fixture
def months_after() -> Callable[[datetime, int], datetime]:
    """`months_after(at, n)`: the same day and time n calendar months later (clamped to month end)."""
    return add_months


@pytest.fixture
def sim() -> StripeSim:
    """A live-mode simulator (test-mode payments are never payable, so tests opt into them)."""
    return StripeSim(seed=7, livemode=True)


def _events(items: Iterable[Events]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for item in items:
        events.extend(item.events if isinstance(item, Flow) else item)
    return events


@pytest.fixture
def events_of() -> Callable[..., list[dict[str, Any]]]:
    """`events_of(flow_or_events, ...)`: every event of the flows, in order."""
    return lambda *items: _events(items)


def _payments(*items: Events) -> pl.DataFrame:
    objects, _rejected = staged(_events(items))
    observations = payment_observations(objects)
    return build_payments(observations)


@pytest.fixture
def payments_of() -> Callable[..., pl.DataFrame]:
    """`payments_of(flow_or_events, ...)`: the payments mart built from those Stripe events."""
    return _payments


def _click(
    at: datetime,
    offer: str = "pro-20",
    affiliate: str = "jane",
    *,
    is_bot: bool = False,
    click_id: str | None = None,
) -> Row:
    return {
        "click_id": click_id or new_click_id(at),
        "clicked_at": at,
        "source": "redirect",
        "link_code": LINK_OF_OFFER.get(offer, offer),
        "affiliate_id": affiliate,
        "offer_id": offer,
        "user_agent": "Mozilla/5.0",
        "is_bot": is_bot,
    }


@pytest.fixture
def click() -> Callable[..., Row]:
    """`click(at, offer="pro-20", affiliate="jane", is_bot=False)`: one landed click record."""
    return _click


def _clicks(*rows: Row) -> pl.DataFrame:
    if not rows:
        return build_clicks(pl.DataFrame(schema=CLICK))
    return build_clicks(pl.DataFrame(list(rows), infer_schema_length=None))


@pytest.fixture
def clicks_frame() -> Callable[..., pl.DataFrame]:
    """`clicks_frame(click, ...)`: the clicks mart of those click records."""
    return _clicks


def _offer(id: str = "pro-20", **terms: Any) -> Row:
    """An offer validated by the program file's own model, as a program.offers row."""
    base = next((o for o in (PRO_20, LIFETIME_10, EBOOK_FLAT) if o["id"] == id), {"id": id})
    merged = {"name": f"Offer {id}", **base, **terms}
    if merged.get("recurring") != "fixed_period":
        merged.pop("recurring_months", None)
    o = Offer(**merged)
    return {
        "offer_id": o.id,
        "name": o.name,
        "type": o.type,
        "percent": Decimal(o.percent) if o.percent is not None else None,
        "amount_minor": o.amount_minor,
        "currency": o.currency,
        "recurring": o.recurring,
        "recurring_months": o.recurring_months,
        "attribution_window_days": o.attribution_window_days,
        "holding_days": o.holding_days,
    }


@pytest.fixture
def offer() -> Callable[..., Row]:
    """`offer(id="pro-20", **terms)`: a demo offer (pro-20, lifetime-10, ebook-flat) or a new one, terms
    overridden; validated like the program file."""
    return _offer


def _offers(*rows: Row) -> pl.DataFrame:
    rows = rows or (_offer("pro-20"), _offer("lifetime-10"), _offer("ebook-flat"))
    return pl.DataFrame(list(rows), schema=OFFER)


@pytest.fixture
def offers_frame() -> Callable[..., pl.DataFrame]:
    """`offers_frame(offer, ...)`: program.offers; with no argument the demo program's three offers."""
    return _offers


@pytest.fixture
def attribute_flows() -> Callable[..., tuple[pl.DataFrame, pl.DataFrame]]:
    """`attribute_flows(flows, clicks=[...], offers=None)`: (conversions, unattributed) from Stripe flows."""

    def run(
        flows: Iterable[Events], clicks: Iterable[Row] = (), offers: pl.DataFrame | None = None
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        offers = offers if offers is not None else _offers()
        return attribute(_payments(*flows), _clicks(*clicks), offers)

    return run


@pytest.fixture
def evaluate_flows(attribute_flows: Callable[..., Any]) -> Callable[..., pl.DataFrame]:
    """`evaluate_flows(flows, clicks, offers)`: evaluated conversions (commission per payment)."""

    def run(flows: Iterable[Events], clicks: Iterable[Row], offers: pl.DataFrame) -> pl.DataFrame:
        conversions, _unattributed = attribute_flows(flows, clicks, offers)
        return evaluate_conversions(conversions, offers)

    return run


def _conversion(
    amount_minor: int = 9900,
    *,
    offer: str = "pro-20",
    payment_number: int = 1,
    at: datetime = datetime(2026, 1, 15, 10, tzinfo=UTC),
    first_at: datetime | None = None,
    tax_minor: int = 0,
    currency: str = "usd",
    livemode: bool = True,
    affiliate: str = "jane",
    payment_id: str | None = None,
) -> Row:
    payment_id = payment_id or f"in_{offer}_{payment_number}_{amount_minor}_{at:%Y%m%d%H%M%S}"
    return {
        "conversion_id": f"cv_{payment_id}",
        "payment_id": payment_id,
        "click_id": new_click_id(at - timedelta(days=1)),
        "click_id_source": "metadata" if payment_number == 1 else "subscription",
        "affiliate_id": affiliate,
        "offer_id": offer,
        "link_code": LINK_OF_OFFER.get(offer, offer),
        "conversion_type": "initial" if payment_number == 1 else "renewal",
        "payment_number": payment_number,
        "occurred_at": at,
        "attributed_from_at": first_at or at,
        "amount_minor": amount_minor,
        "tax_minor": tax_minor,
        "currency": currency,
        "livemode": livemode,
        "customer_id": "cus_TEST",
        "subscription_id": None,
        "billing_reason": "one_time" if payment_number == 1 else "subscription_cycle",
    }


@pytest.fixture
def conversion() -> Callable[..., Row]:
    """`conversion(amount_minor, offer=, payment_number=, at=, first_at=, tax_minor=, currency=, livemode=)`:
    one attributed payment, as a conversions row."""
    return _conversion


@pytest.fixture
def conversions_frame() -> Callable[..., pl.DataFrame]:
    """`conversions_frame(conversion, ...)`: the conversions mart of those rows."""
    return lambda *rows: pl.DataFrame(list(rows), schema=ATTRIBUTED_PAYMENT)


_LINE_NUMBERS = itertools.count(1)


def _line(
    amount_minor: int,
    *,
    period: str = "2026-01",
    affiliate: str = "jane",
    currency: str = "usd",
    kind: str = "commission",
    status: str = "approved",
    livemode: bool = True,
) -> Row:
    earned = datetime.strptime(period + "-10", "%Y-%m-%d").replace(tzinfo=UTC)
    number = next(_LINE_NUMBERS)
    conversion_id = f"cv_{number}"
    return {
        "line_id": f"{conversion_id}:{kind}",
        "conversion_id": conversion_id,
        "payment_id": f"pi_{number}",
        "affiliate_id": affiliate,
        "offer_id": "pro-20",
        "kind": kind,
        "rule": "20% of 9900 usd, payment 1, month 1 of 12",
        "base_amount_minor": 9900,
        "amount_minor": amount_minor,
        "currency": currency,
        "earned_at": earned,
        "payable_on": earned.date() + timedelta(days=30),
        "period": period,
        "status": status,
        "livemode": livemode,
    }


@pytest.fixture
def line() -> Callable[..., Row]:
    """`line(amount_minor, period=, affiliate=, currency=, kind=, status=, livemode=)`: one ledger line."""
    return _line


@pytest.fixture
def lines_frame() -> Callable[..., pl.DataFrame]:
    """`lines_frame(line, ...)`: the commission_lines mart of those rows."""
    return lambda *rows: pl.DataFrame(list(rows), schema=COMMISSION_LINE)
