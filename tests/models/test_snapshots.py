"""Backfilled object snapshots beside delivered events: history only backfilled makes the payments,
conversions and commissions its events would have made, and a payment both backfilled and delivered
is exactly the delivered payment."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from core.contracts import STRIPE_OBJECT, conform
from models.objects import one_copy_per_event
from simulator.stripe import BASIL, LEGACY, StripeSim
from tests.support.books import Book
from tests.support.clock import utc
from tests.support.fake_stripe import backfilled
from tests.support.marts import assert_same_money

NOW = utc("2026-06-01")
OFFER = {
    "id": "pro",
    "name": "Pro",
    "type": "percent",
    "percent": 20,
    "recurring": "lifetime",
    "holding_days": 30,
}
API_VERSIONS = pytest.mark.parametrize("api", [BASIL, LEGACY])
LOST = {  # webhooks an endpoint that was down never got
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice_payment.paid",
    "refund.created",
    "charge.refunded",
    "charge.dispute.closed",
    "charge.dispute.funds_reinstated",
}


def story(api: str) -> Book:
    """A subscription renewing twice, one-time purchases (one partly refunded, one disputed and won,
    one disputed and lost), a payment nobody referred."""
    book = Book([OFFER], sim=StripeSim(seed=31, api_version=api, livemode=True))
    sub = book.subscribe(utc("2026-01-10"), 9900)
    book.renew(sub, utc("2026-02-10"))
    book.renew(sub, utc("2026-03-10"))
    refunded = book.buy(utc("2026-01-12"), 5000, affiliate="omar")
    book.refund(refunded, utc("2026-01-20"), 2000)
    won = book.buy(utc("2026-01-14"), 3000)
    book.dispute(won, utc("2026-01-25"), won_on=utc("2026-02-20"))
    lost = book.buy(utc("2026-01-15"), 4000)
    book.dispute(lost, utc("2026-01-28"))
    book._land(book.sim.one_time_checkout(utc("2026-01-16"), 1500))
    return book


SLACK = timedelta(seconds=10)  # a backfilled one-time payment is dated by its charge, seconds before


@API_VERSIONS
def test_history_only_backfilled_makes_the_payments_conversions_and_commissions_of_its_events(
    api: str,
) -> None:
    book = story(api)
    delivered = book.marts(NOW)

    only_snapshots = book.marts(NOW, backfilled(book.events()))

    assert delivered.payments.height == 7 and delivered.payment_adjustments.height == 4
    assert_same_money(only_snapshots.tables(), delivered.tables(), SLACK)
    sources = only_snapshots.payments["source_event_ids"].explode()
    assert sources.str.starts_with("evt_backfill_").all()


@API_VERSIONS
def test_a_payment_both_backfilled_and_delivered_is_exactly_the_delivered_payment(api: str) -> None:
    book = story(api)
    delivered = book.marts(NOW)

    both = book.marts(NOW, [*backfilled(book.events()), *book.events()])

    for table, frame in delivered.tables().items():
        assert_frame_equal(getattr(both, table), frame, check_row_order=False)


def test_the_rules_read_the_lakes_lazy_scan_as_they_read_a_frame(tmp_path: Path) -> None:
    """The pipeline hands the rules a lazy scan of the lake's files (each rule reads only its kinds and
    columns); with snapshots to drop beside delivered events, every mart is the frame's."""
    book = story(BASIL)
    events = [*backfilled(book.events()), *book.events()]

    from_frame, from_lake = book.marts(NOW, events), book.marts(NOW, events, lake=tmp_path / "objects")

    assert from_frame.payments.height == 7 and from_frame.payment_adjustments.height == 4
    assert len(list((tmp_path / "objects").glob("*.parquet"))) == 2
    for table, frame in from_frame.tables().items():
        assert_frame_equal(getattr(from_lake, table), frame)


@API_VERSIONS
def test_snapshots_fill_in_for_the_webhooks_that_never_arrived(api: str) -> None:
    book = story(api)
    delivered = book.marts(NOW)
    arrived = [e for e in book.events() if e["type"] not in LOST]
    partial = book.marts(NOW, arrived)

    healed = book.marts(NOW, [*arrived, *backfilled(book.events())])

    assert partial.payment_adjustments.height < delivered.payment_adjustments.height
    assert set(partial.payments["payment_id"]) != set(delivered.payments["payment_id"])
    assert_same_money(healed.tables(), delivered.tables(), SLACK)


def test_a_won_dispute_backfilled_takes_back_at_the_withdrawal_and_returns_at_the_win() -> None:
    book = Book([OFFER], sim=StripeSim(seed=32, livemode=True))
    paid = book.buy(utc("2026-01-14"), 3000)
    book.dispute(paid, utc("2026-01-25"), won_on=utc("2026-03-05"))

    lines = book.marts(NOW, backfilled(book.events())).commission_lines.sort("earned_at")

    assert lines["kind"].to_list() == ["commission", "reversal", "reinstatement"]
    assert lines["amount_minor"].to_list() == [600, -600, 600]
    assert [at.date().isoformat() for at in lines["earned_at"]] == ["2026-01-14", "2026-01-25", "2026-03-05"]


def test_a_backfilled_one_time_payment_is_dated_by_its_charge_not_its_sessions_creation() -> None:
    book = Book([OFFER], sim=StripeSim(seed=33, livemode=True))
    flow = book.buy(utc("2026-01-31T23:59"), 3000)  # the session was opened 90 s before, in January
    charge: dict[str, Any] = flow.first("charge.succeeded")["data"]["object"]

    [payment] = book.marts(NOW, backfilled(book.events())).payments.iter_rows(named=True)

    assert payment["occurred_at"] == datetime.fromtimestamp(charge["created"], payment["occurred_at"].tzinfo)


def test_a_payment_known_only_by_its_session_snapshot_is_dated_by_the_session() -> None:
    book = Book([OFFER], sim=StripeSim(seed=34, livemode=True))
    book.buy(utc("2026-01-20"), 3000)
    [session] = [e for e in backfilled(book.events()) if e["type"] == "checkout.session.completed"]

    [payment] = book.marts(NOW, [session]).payments.iter_rows(named=True)

    assert payment["occurred_at"] == datetime.fromtimestamp(session["created"], payment["occurred_at"].tzinfo)
    assert payment["amount_minor"] == 3000


def test_an_event_staged_twice_is_read_once_as_its_copy_landed_first() -> None:
    # A run loads a copy landed earlier than the one it holds (two receiver processes, a retry): the
    # rules read that copy alone, whichever was staged first, and one copy of two alike.
    first, later = utc("2026-03-02T10:00:00"), utc("2026-03-02T10:05:00")
    rows = [
        {"event_id": "evt_a", "received_at": later, "amount": 1},
        {"event_id": "evt_b", "received_at": later, "amount": 3},
        {"event_id": "evt_a", "received_at": first, "amount": 2},
        {"event_id": "evt_c", "received_at": first, "amount": 4},
        {"event_id": "evt_c", "received_at": first, "amount": 4},
    ]
    staged = conform(pl.DataFrame(rows), STRIPE_OBJECT)

    kept = one_copy_per_event(staged).collect().sort("event_id")

    assert kept.select("event_id", "received_at", "amount").rows() == [
        ("evt_a", first, 2),
        ("evt_b", later, 3),
        ("evt_c", first, 4),
    ]
    assert one_copy_per_event(staged.filter(pl.col("event_id") == "evt_b")).collect().height == 1
