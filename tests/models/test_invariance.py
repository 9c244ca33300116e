"""Invariance: the marts depend only on which Stripe events arrived, never on their order, their
repetition, or how they were split across pipeline runs (each run rebuilds from all raw events)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from core.click_ids import new_click_id
from core.contracts import OFFER_TIER, empty
from models.marts import MartInputs, build_marts
from pipelines.staging.stage import stage_frame
from simulator.landing import raw_events_frame
from simulator.stripe import BASIL, LEGACY, Flow, StripeSim

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
NOW = START + timedelta(days=75)  # some lines approved, later ones still pending
GUIDE_EVENTS = {"checkout.session.completed", "invoice.paid", "charge.succeeded"}
Event = dict[str, Any]

KINDS = [
    "one_time",
    "payment_link",
    "direct_payment_intent",
    "bare_charge",
    "manual_invoice",
    "subscription",
    "trial_subscription",
    "async_succeeded",
    "async_failed",
]
MONEY_BACK = ["none", "full_refund", "partial_refunds", "dispute_open", "dispute_lost", "dispute_won"]
OFFERS = ["pro-20", "lifetime-10", "ebook-flat"]
# each mart and the columns that identify its rows
KEYS = {
    "payments": ["payment_id"],
    "payment_adjustments": ["adjustment_id"],
    "conversions": ["conversion_id"],
    "commission_lines": ["line_id"],
}


@dataclass(frozen=True)
class FlowSpec:
    kind: str
    api: str
    money_back: str
    offer: str
    renewals: int
    upgrade: bool
    guide_events_only: bool  # a basil endpoint without invoice_payment.paid / payment_intent.succeeded


flow_specs = st.builds(
    FlowSpec,
    kind=st.sampled_from(KINDS),
    api=st.sampled_from([BASIL, LEGACY]),
    money_back=st.sampled_from(MONEY_BACK),
    offer=st.sampled_from(OFFERS),
    renewals=st.integers(min_value=0, max_value=2),
    upgrade=st.booleans(),
    guide_events_only=st.booleans(),
)


def click_id_for(at: datetime, number: int) -> str:
    """A deterministic click id of our format (time part, then a fixed random part)."""
    return new_click_id(at)[:10] + f"{number:020d}"


def simulate(seed: int, specs: list[FlowSpec], click: Callable) -> tuple[list[Event], list[dict]]:
    """Events (Stripe's natural order) and clicks of the flows, each flow a few hours after the last."""
    sim = StripeSim(seed=seed, livemode=True)
    events: list[Event] = []
    clicks: list[dict] = []
    for number, spec in enumerate(specs):
        at = START + timedelta(hours=5 * number)
        click_id = click_id_for(at - timedelta(days=1), number)
        clicks.append(click(at - timedelta(days=1), offer=spec.offer, click_id=click_id))
        flows, paid = _flows(sim, spec, at, click_id)
        if spec.guide_events_only and spec.api == BASIL:
            flows = [_guide_only(f) if f.invoice else f for f in flows]
        if paid is not None and spec.money_back != "none":
            flows.append(_money_back(sim, spec.money_back, paid, at + timedelta(days=20)))
        events.extend(e for f in flows for e in f.events)
    return events, clicks


def _guide_only(flow: Flow) -> Flow:
    return Flow(events=[e for e in flow.events if e["type"] in GUIDE_EVENTS], api_version=flow.api_version)


def _flows(sim: StripeSim, spec: FlowSpec, at: datetime, click_id: str) -> tuple[list[Flow], Flow | None]:
    """The flow(s) of one spec and the paid flow that money back applies to (None: nothing paid)."""
    api = spec.api
    if spec.kind in ("subscription", "trial_subscription"):
        trial = 14 if spec.kind == "trial_subscription" else 0
        first = sim.subscription_checkout(at, 9900, click_id=click_id, trial_days=trial, api_version=api)
        flows = [first]
        for month in range(1, spec.renewals + 1):
            flows.append(sim.renewal(first.sub, at + timedelta(days=31 * month), api_version=api))
        if spec.upgrade:
            flows.append(sim.upgrade(first.sub, at + timedelta(days=10), 3300, 19900, api_version=api))
        paid = [f for f in flows if f.charge]
        return flows, paid[-1] if paid else None
    flow = {
        "one_time": lambda: sim.one_time_checkout(at, 4900, click_id=click_id, api_version=api),
        "payment_link": lambda: sim.one_time_checkout(
            at, 1900, click_id=click_id, payment_link=True, api_version=api
        ),
        "direct_payment_intent": lambda: sim.direct_payment_intent(
            at, 2500, click_id=click_id, api_version=api
        ),
        "bare_charge": lambda: sim.bare_charge(at, 1500, click_id=click_id, api_version=api),
        "manual_invoice": lambda: sim.manual_invoice(at, 12000, click_id=click_id, api_version=api),
        "async_succeeded": lambda: sim.async_checkout(
            at, 5000, click_id=click_id, succeeds=True, api_version=api
        ),
        "async_failed": lambda: sim.async_checkout(
            at, 5000, click_id=click_id, succeeds=False, api_version=api
        ),
    }[spec.kind]()
    return [flow], None if spec.kind == "async_failed" else flow


def _money_back(sim: StripeSim, money_back: str, paid: Flow, at: datetime) -> Flow:
    if money_back == "full_refund":
        return sim.refund(paid, at)
    if money_back == "partial_refunds":
        amount = sim._charge_state(paid).amount
        first = sim.refund(paid, at, max(1, amount // 3))
        rest = sim.refund(paid, at + timedelta(days=2), max(1, amount // 3))
        return Flow(events=first.events + rest.events, api_version=first.api_version)
    outcome = {"dispute_open": None, "dispute_lost": "lost", "dispute_won": "won"}[money_back]
    return sim.dispute(paid, at, outcome=outcome)


def marts_of(raw: pl.DataFrame, clicks: pl.DataFrame, offers: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """What a run publishes (models.marts.build_marts), from every raw event so far, sorted by key."""
    objects, rejected = stage_frame(raw)
    inputs = MartInputs(objects, clicks, offers, empty(OFFER_TIER), NOW, rejected=rejected)
    tables = build_marts(inputs).tables()
    return {name: tables[name].sort(keys) for name, keys in KEYS.items()}


def runs_of(events: list[Event], rng: random.Random, runs: int) -> pl.DataFrame:
    """The events split into consecutive runs, each landed at its own time, the raw frames of the runs
    concatenated in any order."""
    cuts = (
        sorted(rng.sample(range(1, len(events)), min(runs - 1, len(events) - 1))) if len(events) > 1 else []
    )
    chunks = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]
    frames = [
        raw_events_frame(chunk, received_at=NOW + timedelta(minutes=10 * n)) for n, chunk in enumerate(chunks)
    ]
    rng.shuffle(frames)
    return pl.concat(frames)


def assert_same_marts(actual: dict[str, pl.DataFrame], expected: dict[str, pl.DataFrame]) -> None:
    for name in KEYS:
        try:
            assert_frame_equal(actual[name], expected[name])
        except AssertionError as exc:
            raise AssertionError(f"marts.{name} differs: {exc}") from None


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(min_value=0, max_value=2**16),
    specs=st.lists(flow_specs, min_size=1, max_size=4),
    rng=st.randoms(use_true_random=False),
    duplicates=st.integers(min_value=0, max_value=12),
    runs=st.integers(min_value=1, max_value=4),
)
def test_any_order_duplication_and_split_into_runs_gives_identical_marts(
    seed: int,
    specs: list[FlowSpec],
    rng: random.Random,
    duplicates: int,
    runs: int,
    click: Callable,
    clicks_frame: Callable,
    offers_frame: Callable,
) -> None:
    events, clicks = simulate(seed, specs, click)
    clicks_mart, offers = clicks_frame(*clicks), offers_frame()
    delivered = events + [rng.choice(events) for _ in range(duplicates)]
    rng.shuffle(delivered)

    once_in_order = marts_of(raw_events_frame(events, received_at=NOW), clicks_mart, offers)
    as_delivered = marts_of(runs_of(delivered, rng, runs), clicks_mart, offers)

    assert_same_marts(as_delivered, once_in_order)


def test_every_kind_of_flow_and_money_back_redelivered_backwards_over_three_runs_gives_identical_marts(
    click: Callable, clicks_frame: Callable, offers_frame: Callable
) -> None:
    plan = [
        ("one_time", "full_refund", "pro-20"),
        ("payment_link", "partial_refunds", "lifetime-10"),
        ("direct_payment_intent", "dispute_open", "ebook-flat"),
        ("bare_charge", "dispute_lost", "pro-20"),
        ("manual_invoice", "dispute_won", "lifetime-10"),
        ("subscription", "dispute_won", "pro-20"),
        ("trial_subscription", "partial_refunds", "lifetime-10"),
        ("async_succeeded", "full_refund", "pro-20"),
        ("async_failed", "none", "pro-20"),
    ]
    specs = [
        FlowSpec(kind, api, money_back, offer, renewals=2, upgrade=True, guide_events_only=api == BASIL)
        for kind, money_back, offer in plan
        for api in (BASIL, LEGACY)
    ]
    events, clicks = simulate(1, specs, click)
    clicks_mart, offers = clicks_frame(*clicks), offers_frame()
    backwards_twice = list(reversed(events)) * 2

    once_in_order = marts_of(raw_events_frame(events), clicks_mart, offers)
    redelivered = marts_of(runs_of(backwards_twice, random.Random(2), 3), clicks_mart, offers)

    assert_same_marts(redelivered, once_in_order)
    payments = once_in_order["payments"]
    assert payments.height == payments["payment_id"].n_unique()
    # everything was paid except the failed async checkout and the trials' $0 first invoices
    assert payments.height == 2 * (1 + 1 + 1 + 1 + 1 + 4 + 3 + 1)
    assert once_in_order["payment_adjustments"]["payment_id"].null_count() == 0
    assert set(once_in_order["commission_lines"]["kind"]) == {"commission", "reversal", "reinstatement"}


@pytest.mark.parametrize("runs", [2, 5])
def test_incremental_runs_end_where_one_full_rebuild_does(
    runs: int, click: Callable, clicks_frame: Callable, offers_frame: Callable
) -> None:
    specs = [
        FlowSpec("subscription", BASIL, "partial_refunds", "pro-20", 2, True, True),
        FlowSpec("one_time", LEGACY, "dispute_won", "lifetime-10", 0, False, False),
    ]
    events, clicks = simulate(9, specs, click)
    clicks_mart, offers = clicks_frame(*clicks), offers_frame()
    size = -(-len(events) // runs)
    raw = pl.DataFrame(schema=raw_events_frame([]).schema)

    for start in range(0, len(events), size):  # each run lands more events and rebuilds from all raw
        raw = pl.concat([raw_events_frame(events[start : start + size], received_at=NOW), raw])
        last_run = marts_of(raw, clicks_mart, offers)

    assert_same_marts(last_run, marts_of(raw_events_frame(events), clicks_mart, offers))
