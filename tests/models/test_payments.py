"""Payments: one row per real money movement, keyed by invoice, PaymentIntent or charge."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from core.click_ids import new_click_id
from simulator.stripe import BASIL, LEGACY, StripeSim

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
GENERATIONS = pytest.mark.parametrize("api", [BASIL, LEGACY], ids=["basil", "legacy"])
Payments = Callable[..., pl.DataFrame]


def only(payments: pl.DataFrame) -> dict:
    """The single payment of a frame, as a dict."""
    assert payments.height == 1, payments
    return payments.row(0, named=True)


# keying -----------------------------------------------------------------------------------


@GENERATIONS
def test_subscription_checkout_is_one_payment_keyed_by_its_invoice(
    api: str, sim: StripeSim, payments_of: Payments
) -> None:
    click_id = new_click_id(START - timedelta(days=3))
    flow = sim.subscription_checkout(START, 9900, click_id=click_id, api_version=api)

    payment = only(payments_of(flow))

    assert payment["payment_id"] == flow.invoice
    assert payment["invoice_id"] == flow.invoice
    assert payment["subscription_id"] == flow.subscription
    assert payment["checkout_session_id"] == flow.session
    assert payment["payment_intent_id"] == flow.payment_intent
    assert payment["billing_reason"] == "subscription_create"
    assert (payment["amount_minor"], payment["currency"]) == (9900, "usd")
    assert payment["customer_id"] == flow.customer
    # the invoice says when it was paid (status_transitions.paid_at): the most authoritative time
    paid_at = flow.first("invoice.paid")["data"]["object"]["status_transitions"]["paid_at"]
    assert payment["occurred_at"] == datetime.fromtimestamp(paid_at, UTC)
    assert (payment["click_id"], payment["click_id_source"]) == (click_id, "client_reference_id")
    assert payment["source_event_ids"] == sorted(e["id"] for e in flow.events)


@GENERATIONS
def test_subscription_click_in_the_subscriptions_metadata_is_read_in_both_generations(
    api: str, sim: StripeSim, payments_of: Payments
) -> None:
    click_id = new_click_id(START - timedelta(days=3))
    flow = sim.subscription_checkout(
        START, 9900, click_id=click_id, via="subscription_metadata", api_version=api
    )

    payment = only(payments_of(flow))

    assert (payment["click_id"], payment["click_id_source"]) == (click_id, "subscription_metadata")


@GENERATIONS
def test_one_time_checkout_is_one_payment_keyed_by_its_payment_intent(
    api: str, sim: StripeSim, payments_of: Payments
) -> None:
    click_id = new_click_id(START - timedelta(days=1))
    flow = sim.one_time_checkout(START, 4900, click_id=click_id, api_version=api)

    payment = only(payments_of(flow))

    assert payment["payment_id"] == flow.payment_intent
    assert payment["checkout_session_id"] == flow.session
    assert payment["charge_id"] == flow.charge
    assert payment["billing_reason"] == "one_time"
    assert payment["subscription_id"] is None
    assert (payment["amount_minor"], payment["currency"]) == (4900, "usd")
    assert (payment["click_id"], payment["click_id_source"]) == (click_id, "metadata")
    assert payment["source_event_ids"] == sorted(e["id"] for e in flow.events)


def test_payment_link_click_comes_from_client_reference_id(sim: StripeSim, payments_of: Payments) -> None:
    click_id = new_click_id(START - timedelta(days=1))
    flow = sim.one_time_checkout(START, 4900, click_id=click_id, payment_link=True)

    payment = only(payments_of(flow))

    assert payment["payment_id"] == flow.payment_intent
    assert (payment["click_id"], payment["click_id_source"]) == (click_id, "client_reference_id")


@GENERATIONS
def test_direct_payment_intent_is_keyed_by_the_intent_with_its_metadata_click(
    api: str, sim: StripeSim, payments_of: Payments
) -> None:
    click_id = new_click_id(START - timedelta(days=1))
    flow = sim.direct_payment_intent(START, 2500, click_id=click_id, api_version=api)

    payment = only(payments_of(flow))

    assert payment["payment_id"] == flow.payment_intent
    assert payment["billing_reason"] == "one_time"
    assert (payment["click_id"], payment["click_id_source"]) == (click_id, "metadata")


def test_bare_charge_is_keyed_by_the_charge(sim: StripeSim, payments_of: Payments) -> None:
    flow = sim.bare_charge(START, 1500, currency="eur")

    payment = only(payments_of(flow))

    assert payment["payment_id"] == flow.charge
    assert payment["payment_intent_id"] is None
    assert payment["billing_reason"] == "one_time"
    assert (payment["amount_minor"], payment["currency"]) == (1500, "eur")


@GENERATIONS
def test_each_renewal_is_its_own_subscription_cycle_payment(
    api: str, sim: StripeSim, payments_of: Payments, months_after: Callable
) -> None:
    first = sim.subscription_checkout(START, 9900, api_version=api)
    renewals = [sim.renewal(first.sub, months_after(START, n), api_version=api) for n in (1, 2)]

    payments = payments_of(first, *renewals)

    assert payments["payment_id"].to_list() == [first.invoice, renewals[0].invoice, renewals[1].invoice]
    assert payments["billing_reason"].to_list() == [
        "subscription_create",
        "subscription_cycle",
        "subscription_cycle",
    ]
    assert payments["subscription_id"].unique().to_list() == [first.subscription]


@GENERATIONS
def test_upgrade_is_a_subscription_update_payment_of_the_prorated_amount(
    api: str, sim: StripeSim, payments_of: Payments
) -> None:
    first = sim.subscription_checkout(START, 9900, api_version=api)
    upgrade = sim.upgrade(first.sub, START + timedelta(days=10), 3300, 19900, api_version=api)

    payment = only(payments_of(upgrade))

    assert payment["payment_id"] == upgrade.invoice
    assert payment["billing_reason"] == "subscription_update"
    assert payment["amount_minor"] == 3300


@GENERATIONS
def test_zero_amount_invoice_is_not_a_payment(
    api: str, sim: StripeSim, payments_of: Payments, months_after: Callable
) -> None:
    first = sim.subscription_checkout(START, 9900, api_version=api)
    free_month = sim.zero_invoice(first.sub, months_after(START, 1), api_version=api)

    assert payments_of(free_month).is_empty()
    assert payments_of(first, free_month)["payment_id"].to_list() == [first.invoice]


@GENERATIONS
def test_async_checkout_is_not_a_payment_until_the_money_settles(
    api: str, sim: StripeSim, payments_of: Payments
) -> None:
    flow = sim.async_checkout(START, 5000, succeeds=True, api_version=api)
    unpaid_so_far = flow.events[:2]  # charge.pending, checkout.session.completed (unpaid)

    assert [e["type"] for e in unpaid_so_far] == ["charge.pending", "checkout.session.completed"]
    assert payments_of(unpaid_so_far).is_empty()
    payment = only(payments_of(flow))
    assert payment["payment_id"] == flow.payment_intent
    assert payment["amount_minor"] == 5000


def test_async_checkout_payment_occurs_when_the_money_settles(sim: StripeSim, payments_of: Payments) -> None:
    settled_at = START + timedelta(days=4)
    flow = sim.async_checkout(START, 5000, succeeds=True, settled_at=settled_at)

    assert only(payments_of(flow))["occurred_at"] >= settled_at


@GENERATIONS
def test_failed_async_checkout_is_never_a_payment(api: str, sim: StripeSim, payments_of: Payments) -> None:
    flow = sim.async_checkout(START, 5000, succeeds=False, api_version=api)

    assert payments_of(flow).is_empty()


@GENERATIONS
def test_manual_invoice_is_a_manual_payment(api: str, sim: StripeSim, payments_of: Payments) -> None:
    click_id = new_click_id(START - timedelta(days=1))
    flow = sim.manual_invoice(START, 12000, click_id=click_id, api_version=api)

    payment = only(payments_of(flow))

    assert payment["billing_reason"] == "manual"
    assert payment["invoice_id"] == flow.invoice
    # An invoice without a subscription is keyed like any one-time payment: its PaymentIntent.
    assert payment["payment_id"] == flow.payment_intent
    assert (payment["click_id"], payment["click_id_source"]) == (click_id, "metadata")


@GENERATIONS
def test_tax_is_read_from_subscription_invoices_of_both_generations(
    api: str, sim: StripeSim, payments_of: Payments, months_after: Callable
) -> None:
    first = sim.subscription_checkout(START, 11900, tax_minor=2000, api_version=api)
    renewal = sim.renewal(first.sub, months_after(START, 1), api_version=api)

    payments = payments_of(first, renewal)

    assert payments["amount_minor"].to_list() == [11900, 11900]
    assert payments["tax_minor"].to_list() == [2000, 2000]


@GENERATIONS
def test_tax_is_read_from_one_time_checkout_and_manual_invoices(
    api: str, sim: StripeSim, payments_of: Payments
) -> None:
    checkout = sim.one_time_checkout(START, 6000, tax_minor=1000, api_version=api)
    invoice = sim.manual_invoice(START + timedelta(hours=1), 12000, tax_minor=2000, api_version=api)

    payments = payments_of(checkout, invoice)

    assert payments["tax_minor"].to_list() == [1000, 2000]


def test_payment_without_tax_has_zero_tax(sim: StripeSim, payments_of: Payments) -> None:
    assert only(payments_of(sim.bare_charge(START, 1500)))["tax_minor"] == 0


def test_endpoint_switching_api_version_mid_subscription_still_gives_one_payment_per_invoice(
    sim: StripeSim, payments_of: Payments, months_after: Callable
) -> None:
    first = sim.subscription_checkout(START, 9900, api_version=LEGACY)
    renewal_basil = sim.renewal(first.sub, months_after(START, 1), api_version=BASIL)
    renewal_legacy = sim.renewal(first.sub, months_after(START, 2), api_version=LEGACY)

    payments = payments_of(first, renewal_basil, renewal_legacy)

    assert payments["payment_id"].to_list() == first.sub.invoices
    assert payments["billing_reason"].to_list() == [
        "subscription_create",
        "subscription_cycle",
        "subscription_cycle",
    ]
    every_event = first.events + renewal_basil.events + renewal_legacy.events
    assert sorted(payments["source_event_ids"].explode().to_list()) == sorted(e["id"] for e in every_event)


def test_test_mode_payment_is_kept_and_marked(payments_of: Payments) -> None:
    flow = StripeSim(seed=3, livemode=False).one_time_checkout(START, 4900)

    assert only(payments_of(flow))["livemode"] is False


# delivery order and duplicates ------------------------------------------------------------


def mixed_flows(seed: int = 11) -> list[dict]:
    """Events of every kind of flow, both generations, in Stripe's natural order."""
    sim = StripeSim(seed=seed, livemode=True)
    click = "01KEVCRJ80B2E51NY4MWJAVER50QNZ"
    events: list[dict] = []
    for api in (BASIL, LEGACY):
        sub = sim.subscription_checkout(START, 9900, click_id=click, tax_minor=900, api_version=api)
        events += sub.events
        events += sim.renewal(sub.sub, START + timedelta(days=31), api_version=api).events
        events += sim.upgrade(sub.sub, START + timedelta(days=40), 3300, 19900, api_version=api).events
        events += sim.zero_invoice(sub.sub, START + timedelta(days=62), api_version=api).events
        events += sim.one_time_checkout(START, 4900, click_id=click, api_version=api).events
        events += sim.one_time_checkout(
            START, 1900, click_id=click, payment_link=True, api_version=api
        ).events
        events += sim.direct_payment_intent(START, 2500, api_version=api).events
        events += sim.async_checkout(START, 5000, succeeds=True, api_version=api).events
        events += sim.async_checkout(START, 5000, succeeds=False, api_version=api).events
        events += sim.manual_invoice(START, 12000, tax_minor=2000, api_version=api).events
        events += sim.bare_charge(START, 1500, api_version=api).events
    return events


def test_every_event_twice_in_reverse_order_gives_identical_payments(payments_of: Payments) -> None:
    events = mixed_flows()

    in_order = payments_of(events)
    redelivered = payments_of(list(reversed(events)) + list(reversed(events)))

    assert in_order.height == 18  # per generation: 3 paid subscription invoices and 6 other payments
    assert_frame_equal(redelivered, in_order)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False), duplicates=st.integers(min_value=0, max_value=15))
def test_any_delivery_order_with_duplicates_gives_identical_payments(
    rng: random.Random, duplicates: int, payments_of: Payments
) -> None:
    events = mixed_flows()
    delivered = events + [rng.choice(events) for _ in range(duplicates)]
    rng.shuffle(delivered)

    assert_frame_equal(payments_of(delivered), payments_of(events))
