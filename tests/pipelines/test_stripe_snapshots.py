"""Object snapshots as events: each object the API returns becomes the event that would have reported it,
which staging decodes exactly like the delivered event."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.contracts import STRIPE_OBJECT_FIELDS
from pipelines.sources.stripe_api.snapshots import Reading, snapshot_events
from simulator.landing import staged
from simulator.stripe import StripeSim
from tests.support.clock import utc
from tests.support.paths import STRIPE_FIXTURES

LIVE = Reading("2026-10-28.endive", livemode=True)
TEST = Reading("2026-10-28.endive", livemode=False)
REAL_EVENTS = [  # real Stripe payloads whose object's state is the event's
    "legacy_2020-03-02/checkout_session_completed.json",
    "legacy_2020-03-02/charge_succeeded.json",
    "legacy_2020-03-02/invoice_paid.json",
    "legacy_2020-03-02/invoice_payment_paid.json",
    "legacy_2020-03-02/refund_created.json",
    "basil_sandbox_unsigned/checkout.session.completed__mode_subscription__basil.json",
    "real_signed_basil/body.json",  # invoice.payment_succeeded: its snapshot is invoice.paid
]


@pytest.mark.parametrize("fixture", REAL_EVENTS)
def test_a_real_objects_snapshot_stages_to_the_fields_of_its_real_event(fixture: str) -> None:
    real = json.loads((STRIPE_FIXTURES / fixture).read_text())
    mode = Reading("2026-10-28.endive", livemode=real["livemode"])

    [snapshot] = snapshot_events(real["data"]["object"], mode)
    objects, rejected = staged([real, snapshot])

    assert snapshot["id"] == f"evt_backfill_{real['data']['object']['id']}"
    assert snapshot["data"]["object"] is real["data"]["object"]
    assert snapshot["attro_source"] == "backfill" and snapshot["livemode"] == real["livemode"]
    fields = ["object_kind", "livemode", *STRIPE_OBJECT_FIELDS]
    by_event = {row["event_id"]: tuple(row[f] for f in fields) for row in objects.iter_rows(named=True)}
    assert rejected.is_empty()
    assert by_event[snapshot["id"]] == by_event[real["id"]]


def objects(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each object's latest state, by type."""
    return {e["data"]["object"]["object"]: e["data"]["object"] for e in events}


def test_each_object_is_the_event_of_the_state_it_is_in_dated_when_it_got_there() -> None:
    sim = StripeSim(seed=3, livemode=True)
    sub = sim.subscription_checkout(utc("2026-01-10"), 9900, click_id="x")
    latest = objects(sub.events)

    events = {kind: snapshot_events(obj, LIVE) for kind, obj in latest.items()}

    invoice = latest["invoice"]
    assert [(e["type"], e["created"]) for e in events["invoice"]] == [
        ("invoice.paid", invoice["status_transitions"]["paid_at"])
    ]
    assert [e["type"] for e in events["checkout.session"]] == ["checkout.session.completed"]
    assert [(e["type"], e["created"]) for e in events["charge"]] == [
        ("charge.succeeded", latest["charge"]["created"])
    ]
    assert [e["type"] for e in events["payment_intent"]] == ["payment_intent.succeeded"]
    assert [e["type"] for e in events["invoice_payment"]] == ["invoice_payment.paid"]


@pytest.mark.parametrize(
    ("obj", "why"),
    [
        ({"id": "in_open", "object": "invoice", "status": "open", "created": 1767225600}, "not paid yet"),
        ({"id": "ch_failed", "object": "charge", "status": "failed", "created": 1767225600}, "failed"),
        (
            {"id": "cs_open", "object": "checkout.session", "status": "expired", "created": 1767225600},
            "expired",
        ),
        (
            {"id": "pi_open", "object": "payment_intent", "status": "processing", "created": 1767225600},
            "pending",
        ),
        ({"id": "in_x", "object": "invoice", "status": "paid"}, "no time"),
        ({"object": "charge", "status": "succeeded", "created": 1767225600}, "no id"),
        ({"id": "pm_1", "object": "payment_method", "created": 1767225600}, "not a kind the rules read"),
    ],
)
def test_an_object_that_reports_nothing_yet_is_no_event(obj: dict[str, Any], why: str) -> None:
    assert snapshot_events(obj, LIVE) == [], why


def test_a_refund_which_carries_no_mode_takes_the_keys() -> None:
    refund = {"id": "re_1", "object": "refund", "status": "succeeded", "amount": 100, "created": 1767225600}

    assert [e["livemode"] for e in snapshot_events(refund, LIVE) + snapshot_events(refund, TEST)] == [
        True,
        False,
    ]


def test_a_dispute_is_its_withdrawal_and_reinstatement_each_at_its_own_time() -> None:
    sim = StripeSim(seed=4, livemode=True)
    paid = sim.one_time_checkout(utc("2026-01-10"), 3000)
    won = sim.dispute(paid, utc("2026-01-20"), outcome="won", closed_at=utc("2026-02-15"))
    inquiry = sim.dispute(sim.one_time_checkout(utc("2026-01-11"), 100), utc("2026-01-21"))
    inquiry_object = inquiry.events[0]["data"]["object"] | {
        "status": "warning_needs_response",
        "balance_transactions": [],
    }

    events = snapshot_events(won.events[-1]["data"]["object"], LIVE)

    assert [(e["type"], e["created"]) for e in events] == [
        ("charge.dispute.funds_withdrawn", int(utc("2026-01-20").timestamp())),
        ("charge.dispute.funds_reinstated", int(utc("2026-02-15").timestamp())),
    ]
    assert len({e["id"] for e in events}) == 2
    assert [e["type"] for e in snapshot_events(inquiry_object, LIVE)] == ["charge.dispute.created"]
