"""Tests for the Stripe event simulator: real signatures, real shapes, linking fields per API version."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe

from simulator.stripe import (
    BASIL,
    LEGACY,
    Flow,
    StripeSim,
    deliveries,
    encode,
    sign_header,
    signed_request,
)
from tests.support.paths import STRIPE_FIXTURES

FIXTURES = STRIPE_FIXTURES
REAL = FIXTURES / "real_signed_basil"
AT = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
SECRET = "whsec_test_simulator_secret"
GENERATIONS = [BASIL, LEGACY]


def obj(event: dict[str, Any]) -> dict[str, Any]:
    return event["data"]["object"]


def fixture_object(relative: str) -> dict[str, Any]:
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8"))["data"]["object"]


# signatures -------------------------------------------------------------------------------


def test_sign_header_reproduces_the_real_stripe_signature() -> None:
    body = (REAL / "body.json").read_bytes()
    secret = (REAL / "signing_secret.txt").read_text().strip()
    real = dict(part.split("=", 1) for part in (REAL / "stripe-signature.txt").read_text().strip().split(","))

    ours = sign_header(body, secret, int(real["t"]))

    assert ours == f"t={real['t']},v1={real['v1']}"
    assert stripe.WebhookSignature.verify_header(body, ours, secret)


def test_sign_header_defaults_to_now_and_passes_construct_event() -> None:
    sim = StripeSim(seed=3)
    event = sim.one_time_checkout(AT, 1999).events[0]
    body = encode(event)
    constructed = stripe.Webhook.construct_event(body, sign_header(body, SECRET), SECRET)
    assert constructed.id == event["id"]
    assert constructed.type == event["type"]


def test_wrong_secret_is_rejected() -> None:
    body = encode(StripeSim().bare_charge(AT, 100).events[0])
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body, sign_header(body, "whsec_other"), SECRET)


def test_encode_keeps_non_ascii_as_utf8() -> None:
    event = StripeSim().envelope({"id": "x", "object": "thing", "description": "1 × Pro"}, "x.y", AT)
    assert "1 × Pro".encode() in encode(event)


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_every_event_of_every_flow_round_trips_through_stripe(api_version: str) -> None:
    flows = scenario(StripeSim(seed=11, api_version=api_version))
    events = [e for flow in flows for e in flow.events]
    assert len({e["id"] for e in events}) == len(events)
    for event in events:
        body, headers = signed_request(event, SECRET)
        constructed = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], SECRET)
        assert (constructed.id, constructed.type) == (event["id"], event["type"])
        assert constructed.data.object.id == obj(event)["id"]
        assert event["api_version"] == api_version


# determinism and envelope -----------------------------------------------------------------


def scenario(sim: StripeSim) -> list[Flow]:
    one = sim.one_time_checkout(AT, 4900, click_id="C1", tax_minor=400)
    sub = sim.subscription_checkout(AT, 9900, click_id="C2", via="subscription_metadata")
    assert sub.sub is not None
    return [
        one,
        sub,
        sim.renewal(sub.sub, AT + timedelta(days=31)),
        sim.upgrade(sub.sub, AT + timedelta(days=40), 3000, 19900),
        sim.zero_invoice(sub.sub, AT + timedelta(days=62)),
        sim.manual_invoice(AT, 25000, click_id="C3"),
        sim.async_checkout(AT, 1500, succeeds=True),
        sim.async_checkout(AT, 1500, succeeds=False),
        sim.direct_payment_intent(AT, 700, click_id="C4"),
        sim.bare_charge(AT, 300),
        sim.refund(one, AT + timedelta(days=2), 1000),
        sim.dispute(sub, AT + timedelta(days=5), outcome="won"),
    ]


def scenario_bytes(seed: int) -> list[bytes]:
    return [encode(e) for flow in scenario(StripeSim(seed=seed)) for e in flow.events]


def test_same_seed_gives_the_same_bytes() -> None:
    assert scenario_bytes(7) == scenario_bytes(7)
    assert scenario_bytes(7) != scenario_bytes(8)


def test_envelope_has_the_stripe_event_fields() -> None:
    event = StripeSim(livemode=True).one_time_checkout(AT, 100).events[0]
    assert set(event) == {
        "id",
        "object",
        "api_version",
        "created",
        "data",
        "livemode",
        "pending_webhooks",
        "request",
        "type",
    }
    assert event["object"] == "event"
    assert event["livemode"] is True
    assert event["created"] == int(AT.timestamp())
    assert event["id"].startswith("evt_") and len(event["id"]) == 28
    assert set(event["request"]) == {"id", "idempotency_key"}


def test_ids_look_like_stripe_ids() -> None:
    flow = StripeSim().one_time_checkout(AT, 100)
    for value, prefix in [(flow.payment_intent, "pi_"), (flow.charge, "ch_")]:
        assert value is not None and value.startswith(prefix)
        assert len(value) == len(prefix) + 24 and value[len(prefix) :].isalnum()
    assert flow.session is not None and flow.session.startswith("cs_test_")


# simulated objects keep the real payloads' fields -----------------------------------------


@pytest.mark.parametrize(
    ("api_version", "fixture", "pick"),
    [
        (BASIL, "real_signed_basil/body.json", "invoice"),
        (LEGACY, "legacy_2020-03-02/invoice_paid.json", "invoice"),
        (
            BASIL,
            "basil_sandbox_unsigned/checkout.session.completed__mode_subscription__basil.json",
            "session",
        ),
        (LEGACY, "legacy_2020-03-02/charge_succeeded.json", "charge"),
        (LEGACY, "legacy_2020-03-02/refund_created.json", "refund"),
        (LEGACY, "legacy_2020-03-02/charge_dispute_created.json", "dispute"),
    ],
)
def test_simulated_objects_have_every_field_of_the_real_payload(
    api_version: str, fixture: str, pick: str
) -> None:
    sim = StripeSim(seed=1, api_version=api_version)
    sub = sim.subscription_checkout(AT, 9900)
    simulated = {
        "invoice": obj(sub.first("invoice.paid")),
        "session": obj(sub.first("checkout.session.completed")),
        "charge": obj(sub.first("charge.succeeded")),
        "refund": obj(sim.refund(sub, AT, 100).first("refund.created")),
        "dispute": obj(sim.dispute(sub, AT).first("charge.dispute.created")),
    }[pick]
    real = fixture_object(fixture)
    assert set(real) - set(simulated) == set()
    if pick == "invoice":
        real_line, sim_line = real["lines"]["data"][0], simulated["lines"]["data"][0]
        assert set(real_line) - set(sim_line) == set()


# one-time payments ------------------------------------------------------------------------


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_one_time_checkout_links_session_intent_and_charge(api_version: str) -> None:
    sim = StripeSim(seed=2, api_version=api_version)
    flow = sim.one_time_checkout(AT, 4900, "eur", click_id="CLICK", tax_minor=400, email="a@b.co")

    assert sorted(flow.types()) == sorted(
        ["checkout.session.completed", "payment_intent.succeeded", "charge.succeeded"]
    )
    session = obj(flow.first("checkout.session.completed"))
    intent = obj(flow.first("payment_intent.succeeded"))
    charge = obj(flow.first("charge.succeeded"))
    assert session["mode"] == "payment" and session["payment_status"] == "paid"
    assert session["payment_intent"] == intent["id"] == charge["payment_intent"] == flow.payment_intent
    assert session["amount_total"] == intent["amount"] == charge["amount"] == 4900
    assert session["total_details"]["amount_tax"] == 400
    assert session["currency"] == charge["currency"] == "eur"
    assert session["customer"] == intent["customer"] == charge["customer"] == flow.customer
    assert session["customer_details"]["email"] == "a@b.co"
    assert session["metadata"] == intent["metadata"] == {"rd_click_id": "CLICK"}
    assert session["client_reference_id"] is None and session["payment_link"] is None
    assert session["subscription"] is None and session["invoice"] is None
    if api_version == BASIL:
        assert "invoice" not in charge
    else:
        assert charge["invoice"] is None
    created = [e["created"] for e in flow.events]
    assert created == sorted(created) and created[0] == int(AT.timestamp())
    assert created[-1] - created[0] < 30


def test_payment_link_passes_the_click_id_as_client_reference_id() -> None:
    flow = StripeSim().one_time_checkout(AT, 900, click_id="CLICK", payment_link=True)
    session = obj(flow.first("checkout.session.completed"))
    assert session["payment_link"].startswith("plink_")
    assert session["client_reference_id"] == "CLICK"
    assert session["metadata"] == {}
    assert obj(flow.first("payment_intent.succeeded"))["metadata"] == {}


def test_client_reference_id_checkout_leaves_metadata_empty() -> None:
    flow = StripeSim().one_time_checkout(AT, 900, click_id="CLICK", via="client_reference_id")
    session = obj(flow.first("checkout.session.completed"))
    assert session["client_reference_id"] == "CLICK" and session["metadata"] == {}


@pytest.mark.parametrize("succeeds", [True, False])
def test_async_checkout_completes_unpaid_then_settles(succeeds: bool) -> None:
    flow = StripeSim().async_checkout(AT, 1500, click_id="CLICK", succeeds=succeeds)
    completed = obj(flow.first("checkout.session.completed"))
    assert completed["payment_status"] == "unpaid"
    outcome = "succeeded" if succeeds else "failed"
    settled = obj(flow.first(f"checkout.session.async_payment_{outcome}"))
    assert settled["payment_status"] == ("paid" if succeeds else "unpaid")
    assert settled["id"] == completed["id"]
    assert flow.types().index("checkout.session.completed") < flow.types().index(
        f"checkout.session.async_payment_{outcome}"
    )
    assert obj(flow.first("charge.pending"))["status"] == "pending"
    if succeeds:
        assert obj(flow.first("charge.succeeded"))["paid"] is True
    else:
        assert "charge.succeeded" not in flow.types()
        assert obj(flow.first("charge.failed"))["status"] == "failed"


def test_direct_payment_intent_and_bare_charge() -> None:
    sim = StripeSim()
    direct = sim.direct_payment_intent(AT, 700, click_id="CLICK")
    assert sorted(direct.types()) == ["charge.succeeded", "payment_intent.succeeded"]
    assert obj(direct.first("payment_intent.succeeded"))["metadata"] == {"rd_click_id": "CLICK"}
    assert obj(direct.first("charge.succeeded"))["payment_intent"] == direct.payment_intent

    bare = sim.bare_charge(AT, 300)
    assert bare.types() == ["charge.succeeded"]
    assert obj(bare.events[0])["payment_intent"] is None and bare.payment_intent is None


# subscriptions ----------------------------------------------------------------------------


def subscription_link(invoice: dict[str, Any]) -> tuple[str | None, dict[str, str] | None]:
    """Where each generation puts the subscription id and its metadata snapshot."""
    if "parent" in invoice:
        details = (invoice["parent"] or {}).get("subscription_details") or {}
        return details.get("subscription"), details.get("metadata")
    line_metadata = invoice["lines"]["data"][0]["metadata"]
    return invoice["subscription"], (invoice.get("subscription_details") or {}).get("metadata", line_metadata)


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_subscription_checkout_events_and_links(api_version: str) -> None:
    sim = StripeSim(seed=4, api_version=api_version)
    flow = sim.subscription_checkout(AT, 9900, click_id="CLICK", tax_minor=900)
    basil = api_version == BASIL

    expected = {
        "checkout.session.completed",
        "invoice.paid",
        "invoice.payment_succeeded",
        "charge.succeeded",
        "payment_intent.succeeded",
    } | ({"invoice_payment.paid"} if basil else set())
    assert set(flow.types()) == expected and len(flow.types()) == len(expected)

    session = obj(flow.first("checkout.session.completed"))
    invoice = obj(flow.first("invoice.paid"))
    charge = obj(flow.first("charge.succeeded"))
    assert session["mode"] == "subscription" and session["payment_status"] == "paid"
    assert session["payment_intent"] is None
    assert session["invoice"] == invoice["id"] == flow.invoice
    assert session["subscription"] == flow.subscription == flow.sub.id  # type: ignore[union-attr]
    assert session["client_reference_id"] == "CLICK"
    assert invoice["billing_reason"] == "subscription_create"
    assert invoice["status"] == "paid" and invoice["amount_paid"] == 9900
    assert invoice["status_transitions"]["paid_at"] >= invoice["created"]
    assert obj(flow.first("invoice.payment_succeeded"))["id"] == invoice["id"]
    assert subscription_link(invoice)[0] == flow.subscription
    assert charge["payment_intent"] == flow.payment_intent

    if basil:
        assert "invoice" not in charge
        for gone in ("subscription", "charge", "payment_intent", "tax", "paid"):
            assert gone not in invoice
        assert [t["amount"] for t in invoice["total_taxes"]] == [900]
        paid = obj(flow.first("invoice_payment.paid"))
        assert paid["object"] == "invoice_payment" and paid["invoice"] == invoice["id"]
        assert paid["payment"] == {"type": "payment_intent", "payment_intent": flow.payment_intent}
        assert "invoice" not in obj(flow.first("payment_intent.succeeded"))
    else:
        assert charge["invoice"] == invoice["id"]
        assert invoice["charge"] == charge["id"]
        assert invoice["payment_intent"] == flow.payment_intent
        assert invoice["tax"] == 900 and "total_taxes" not in invoice and "parent" not in invoice
        assert obj(flow.first("payment_intent.succeeded"))["invoice"] == invoice["id"]


@pytest.mark.parametrize("api_version", [BASIL, "2024-06-20", LEGACY])
def test_subscription_metadata_click_id_is_on_every_invoice(api_version: str) -> None:
    sim = StripeSim(seed=5, api_version=api_version)
    flow = sim.subscription_checkout(AT, 9900, click_id="CLICK", via="subscription_metadata")
    assert flow.sub is not None and flow.sub.click_id == "CLICK"
    renewal = sim.renewal(flow.sub, AT + timedelta(days=31))
    session = obj(flow.first("checkout.session.completed"))
    assert session["client_reference_id"] is None and session["metadata"] == {}

    for invoice in (obj(flow.first("invoice.paid")), obj(renewal.first("invoice.paid"))):
        assert subscription_link(invoice) == (flow.sub.id, {"rd_click_id": "CLICK"})
        if api_version == BASIL:
            assert invoice["lines"]["data"][0]["metadata"] == {}
        elif api_version == LEGACY:
            assert "subscription_details" not in invoice
            assert invoice["lines"]["data"][0]["metadata"] == {"rd_click_id": "CLICK"}
        else:
            assert invoice["subscription_details"]["metadata"] == {"rd_click_id": "CLICK"}


def test_session_metadata_click_id_stays_on_the_session() -> None:
    sim = StripeSim()
    flow = sim.subscription_checkout(AT, 9900, click_id="CLICK", via="metadata")
    assert obj(flow.first("checkout.session.completed"))["metadata"] == {"rd_click_id": "CLICK"}
    assert subscription_link(obj(flow.first("invoice.paid")))[1] == {}


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_renewals_and_upgrades_bill_the_right_amounts(api_version: str) -> None:
    sim = StripeSim(seed=6, api_version=api_version)
    sub = sim.subscription_checkout(AT, 9900).sub
    assert sub is not None

    renewal = sim.renewal(sub, AT + timedelta(days=31))
    upgrade = sim.upgrade(sub, AT + timedelta(days=45), 5000, 19900)
    later = sim.renewal(sub, AT + timedelta(days=62))

    got = [
        (obj(f.first("invoice.paid"))["billing_reason"], obj(f.first("invoice.paid"))["amount_paid"])
        for f in (renewal, upgrade, later)
    ]
    assert got == [
        ("subscription_cycle", 9900),
        ("subscription_update", 5000),
        ("subscription_cycle", 19900),
    ]
    for flow in (renewal, upgrade, later):
        paid = obj(flow.first("invoice.paid"))["amount_paid"]
        assert obj(flow.first("charge.succeeded"))["amount"] == paid
        assert subscription_link(obj(flow.first("invoice.payment_succeeded")))[0] == sub.id
        assert ("invoice_payment.paid" in flow.types()) == (api_version == BASIL)
    assert len(set(sub.invoices)) == 4


def test_api_version_can_change_mid_history() -> None:
    sim = StripeSim(seed=9, api_version=LEGACY)
    sub = sim.subscription_checkout(AT, 9900).sub
    assert sub is not None
    renewal = sim.renewal(sub, AT + timedelta(days=31), api_version=BASIL)
    assert {e["api_version"] for e in renewal.events} == {BASIL}
    invoice = obj(renewal.first("invoice.paid"))
    assert invoice["parent"]["subscription_details"]["subscription"] == sub.id
    assert "invoice" not in obj(renewal.first("charge.succeeded"))


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_zero_invoice_and_trial_have_no_money_movement(api_version: str) -> None:
    sim = StripeSim(seed=8, api_version=api_version)
    trial = sim.subscription_checkout(AT, 9900, click_id="CLICK", trial_days=14)
    assert trial.sub is not None
    session = obj(trial.first("checkout.session.completed"))
    assert session["payment_status"] == "no_payment_required" and session["amount_total"] == 0
    assert obj(trial.first("invoice.paid"))["amount_paid"] == 0
    assert trial.charge is None and trial.payment_intent is None

    zero = sim.zero_invoice(trial.sub, AT + timedelta(days=14))
    assert zero.types() == ["invoice.paid", "invoice.payment_succeeded"]
    invoice = obj(zero.first("invoice.paid"))
    assert invoice["amount_paid"] == 0 and invoice["status"] == "paid"
    if api_version == LEGACY:
        assert invoice["charge"] is None and invoice["payment_intent"] is None


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_manual_invoice_has_no_subscription(api_version: str) -> None:
    flow = StripeSim(api_version=api_version).manual_invoice(AT, 25000, click_id="CLICK")
    invoice = obj(flow.first("invoice.paid"))
    assert invoice["billing_reason"] == "manual" and invoice["metadata"] == {"rd_click_id": "CLICK"}
    assert subscription_link(invoice)[0] is None
    assert flow.subscription is None and flow.charge is not None


# money back -------------------------------------------------------------------------------


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_refunds_accumulate_on_the_charge(api_version: str) -> None:
    sim = StripeSim(seed=10, api_version=api_version)
    flow = sim.one_time_checkout(AT, 10000)

    first = sim.refund(flow, AT + timedelta(days=1), 3000)
    second = sim.refund(flow.charge or "", AT + timedelta(days=2), 2000)
    rest = sim.refund(flow, AT + timedelta(days=3))

    charges = [obj(f.first("charge.refunded")) for f in (first, second, rest)]
    assert [c["amount_refunded"] for c in charges] == [3000, 5000, 10000]
    assert [c["refunded"] for c in charges] == [False, False, True]
    assert [
        f.first("charge.refunded")["data"]["previous_attributes"]["amount_refunded"]
        for f in (first, second, rest)
    ] == [0, 3000, 5000]
    refunds = [obj(f.first("refund.created")) for f in (first, second, rest)]
    assert [r["amount"] for r in refunds] == [3000, 2000, 5000]
    assert {r["status"] for r in refunds} == {"succeeded"}
    assert {r["charge"] for r in refunds} == {flow.charge}
    assert {r["payment_intent"] for r in refunds} == {flow.payment_intent}
    if api_version == LEGACY:
        assert charges[-1]["refunds"]["total_count"] == 3
    else:
        assert "refunds" not in charges[-1]
    with pytest.raises(ValueError):
        sim.refund(flow, AT + timedelta(days=4), 1)


@pytest.mark.parametrize(
    ("outcome", "types"),
    [
        (None, ["charge.dispute.created", "charge.dispute.funds_withdrawn"]),
        ("lost", ["charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed"]),
        (
            "won",
            [
                "charge.dispute.created",
                "charge.dispute.funds_withdrawn",
                "charge.dispute.closed",
                "charge.dispute.funds_reinstated",
            ],
        ),
    ],
)
def test_dispute_lifecycle(outcome: str | None, types: list[str]) -> None:
    sim = StripeSim(seed=12)
    sub = sim.subscription_checkout(AT, 9900)
    flow = sim.dispute(sub, AT + timedelta(days=10), 9900, outcome)  # type: ignore[arg-type]
    assert flow.types() == types
    disputes = [obj(e) for e in flow.events]
    assert {d["charge"] for d in disputes} == {sub.charge}
    assert {d["payment_intent"] for d in disputes} == {sub.payment_intent}
    assert {d["amount"] for d in disputes} == {9900}
    if outcome:
        assert obj(flow.first("charge.dispute.closed"))["status"] == outcome
        assert flow.events[2]["created"] >= int((AT + timedelta(days=31)).timestamp())


def test_an_open_dispute_can_be_closed_later() -> None:
    sim = StripeSim()
    flow = sim.dispute(sim.one_time_checkout(AT, 5000), AT + timedelta(days=3))
    closed = sim.close_dispute(flow.dispute or "", AT + timedelta(days=40), "won")
    assert closed.types() == ["charge.dispute.closed", "charge.dispute.funds_reinstated"]
    with pytest.raises(ValueError):
        sim.close_dispute(flow.dispute or "", AT + timedelta(days=41), "lost")


# delivery ---------------------------------------------------------------------------------


def test_deliveries_duplicate_and_shuffle_without_losing_events() -> None:
    events = [e for f in scenario(StripeSim(seed=13)) for e in f.events]
    delivered = deliveries(events, rng=random.Random(1), duplicate_share=0.3, shuffle=True)
    assert {e["id"] for e in delivered} == {e["id"] for e in events}
    assert len(delivered) > len(events)
    assert [e["id"] for e in delivered] != [e["id"] for e in events][: len(delivered)]
    twice = [e for e in events if sum(d is e for d in delivered) == 2]
    assert twice


def test_deliveries_without_shuffle_keep_order_and_retry_later() -> None:
    events = [e for f in scenario(StripeSim(seed=14)) for e in f.events]
    delivered = deliveries(events, rng=random.Random(2), duplicate_share=0.5)
    first_seen: list[str] = []
    for event in delivered:
        if event["id"] not in first_seen:
            first_seen.append(event["id"])
    assert first_seen == [e["id"] for e in events]
    assert deliveries(events, rng=random.Random(2)) == events
