"""Attribution: which click, affiliate and offer a payment belongs to, and why a payment belongs to nobody."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from core.click_ids import new_click_id
from simulator.stripe import StripeSim

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
Attribute = Callable[..., tuple[pl.DataFrame, pl.DataFrame]]


def reasons(unattributed: pl.DataFrame) -> list[str]:
    return unattributed["reason"].to_list()


# the click ----------------------------------------------------------------------------------


def test_click_inside_the_window_makes_a_conversion_for_the_clicks_affiliate_and_offer(
    sim: StripeSim, click: Callable, attribute_flows: Attribute
) -> None:
    visit = click(START - timedelta(days=10), offer="lifetime-10", affiliate="omar")
    flow = sim.one_time_checkout(START, 4900, click_id=visit["click_id"])

    conversions, unattributed = attribute_flows([flow], [visit])

    assert unattributed.is_empty()
    conversion = conversions.row(0, named=True)
    assert conversion["payment_id"] == flow.payment_intent
    assert conversion["conversion_id"] == f"cv_{flow.payment_intent}"
    assert (conversion["affiliate_id"], conversion["offer_id"]) == ("omar", "lifetime-10")
    assert (conversion["click_id"], conversion["click_id_source"]) == (visit["click_id"], "metadata")
    assert (conversion["conversion_type"], conversion["payment_number"]) == ("initial", 1)
    assert (conversion["amount_minor"], conversion["currency"]) == (4900, "usd")


def test_click_exactly_at_the_end_of_the_window_still_counts(
    sim: StripeSim, click: Callable, attribute_flows: Attribute
) -> None:
    click_id = new_click_id(START - timedelta(days=61))
    flow = sim.subscription_checkout(START, 9900, click_id=click_id)
    paid_at = datetime.fromtimestamp(
        flow.first("invoice.paid")["data"]["object"]["status_transitions"]["paid_at"], UTC
    )
    visit = click(paid_at - timedelta(days=60), offer="pro-20", click_id=click_id)

    conversions, unattributed = attribute_flows([flow], [visit])

    assert conversions["payment_id"].to_list() == [flow.invoice]
    assert unattributed.is_empty()


def test_click_older_than_the_offers_window_is_click_expired(
    sim: StripeSim, click: Callable, attribute_flows: Attribute
) -> None:
    visit = click(START - timedelta(days=61), offer="pro-20")
    flow = sim.subscription_checkout(START, 9900, click_id=visit["click_id"])

    conversions, unattributed = attribute_flows([flow], [visit])

    assert conversions.is_empty()
    assert reasons(unattributed) == ["click_expired"]
    assert unattributed["click_id"].to_list() == [visit["click_id"]]
    assert "61 days before the purchase; window 60 days" in unattributed["detail"][0]


def test_a_click_minutes_past_the_window_says_by_how_much(
    sim: StripeSim, click: Callable, attribute_flows: Attribute
) -> None:
    # Audit: "clicked 60 days before the purchase; window 60 days" (whole days, truncated) read as inside.
    visit = click(START - timedelta(days=60, minutes=10), offer="pro-20")
    flow = sim.subscription_checkout(START, 9900, click_id=visit["click_id"])

    _, unattributed = attribute_flows([flow], [visit])

    assert reasons(unattributed) == ["click_expired"]
    assert "clicked 60 days 0 h 10 min before the purchase; window 60 days" in unattributed["detail"][0]


@pytest.mark.parametrize(
    ("clicked_at", "click_terms", "reason"),
    [
        pytest.param(
            START - timedelta(days=1), {"is_bot": True}, "bot_click", id="bot-click-is-never-attributed"
        ),
        pytest.param(
            START + timedelta(hours=1), {}, "click_after_payment", id="click-after-the-first-payment"
        ),
        pytest.param(
            START - timedelta(days=1),
            {"offer": "retired-offer"},
            "unknown_offer",
            id="click-of-an-offer-missing-from-the-program",
        ),
    ],
)
def test_landed_click_that_cannot_earn_leaves_its_payment_unattributed_with_the_reason(
    clicked_at: datetime,
    click_terms: dict,
    reason: str,
    sim: StripeSim,
    click: Callable,
    attribute_flows: Attribute,
) -> None:
    visit = click(clicked_at, **click_terms)
    flow = sim.one_time_checkout(START, 4900, click_id=visit["click_id"])

    conversions, unattributed = attribute_flows([flow], [visit])

    assert conversions.is_empty()
    assert reasons(unattributed) == [reason]


def test_a_click_after_the_purchase_says_when_both_were(
    sim: StripeSim, click: Callable, attribute_flows: Attribute
) -> None:
    visit = click(START + timedelta(hours=1))
    flow = sim.one_time_checkout(START, 4900, click_id=visit["click_id"])

    _, unattributed = attribute_flows([flow], [visit])

    assert unattributed["detail"].to_list() == [
        f"clicked {START + timedelta(hours=1):%Y-%m-%d %H:%M} UTC,"
        f" after the purchase at {START:%Y-%m-%d %H:%M} UTC"
    ]


def test_click_id_in_our_format_that_never_landed_is_unknown_click(
    sim: StripeSim, click: Callable, attribute_flows: Attribute
) -> None:
    never_landed = new_click_id(START - timedelta(days=1))
    flow = sim.one_time_checkout(START, 4900, click_id=never_landed)

    conversions, unattributed = attribute_flows([flow], [click(START - timedelta(days=2))])

    assert conversions.is_empty()
    assert reasons(unattributed) == ["unknown_click"]
    assert unattributed["click_id"].to_list() == [never_landed]


@pytest.mark.parametrize(
    "not_ours",
    [
        "not-a-click",
        "' OR 1=1 --",
        "x" * 500,
        "ünïcödé-🙂",
        "01kevcrj80b2e51ny4mwjaver50qnz",  # ours, lower-cased by someone else's code
        "01KEVCRJ80B2E51NY4MWJAVER50QNZ0",  # one character too many
    ],
)
def test_malformed_click_id_is_unknown_click_never_a_crash(
    not_ours: str, sim: StripeSim, click: Callable, attribute_flows: Attribute
) -> None:
    flow = sim.one_time_checkout(START, 4900, click_id=not_ours, via="client_reference_id")

    conversions, unattributed = attribute_flows([flow], [click(START - timedelta(days=1))])

    assert conversions.is_empty()
    assert reasons(unattributed) == ["unknown_click"]


def test_payment_without_a_click_id_is_no_click_id(
    sim: StripeSim, click: Callable, attribute_flows: Attribute
) -> None:
    flow = sim.one_time_checkout(START, 4900)

    conversions, unattributed = attribute_flows([flow], [click(START - timedelta(days=1))])

    assert conversions.is_empty()
    assert reasons(unattributed) == ["no_click_id"]
    assert unattributed["payment_id"].to_list() == [flow.payment_intent]


# subscriptions and customers ----------------------------------------------------------------


def test_renewals_and_upgrades_inherit_the_subscriptions_attribution(
    sim: StripeSim, click: Callable, attribute_flows: Attribute, months_after: Callable
) -> None:
    visit = click(START - timedelta(days=5))
    first = sim.subscription_checkout(START, 9900, click_id=visit["click_id"])
    renewal = sim.renewal(first.sub, months_after(START, 1))
    upgrade = sim.upgrade(first.sub, months_after(START, 1) + timedelta(days=10), 3300, 19900)
    next_renewal = sim.renewal(first.sub, months_after(START, 2))

    conversions, unattributed = attribute_flows([first, renewal, upgrade, next_renewal], [visit])

    assert unattributed.is_empty()
    assert conversions["payment_id"].to_list() == [
        first.invoice,
        renewal.invoice,
        upgrade.invoice,
        next_renewal.invoice,
    ]
    assert conversions["payment_number"].to_list() == [1, 2, 3, 4]
    assert conversions["conversion_type"].to_list() == ["initial", "renewal", "change", "renewal"]
    assert conversions["click_id_source"].to_list() == [
        "client_reference_id",
        "subscription",
        "subscription",
        "subscription",
    ]
    assert set(conversions["click_id"]) == {visit["click_id"]}
    assert set(conversions["affiliate_id"]) == {"jane"}
    assert set(conversions["attributed_from_at"]) == {conversions["occurred_at"][0]}


def test_renewals_stay_attributed_long_after_the_click_window(
    sim: StripeSim, click: Callable, attribute_flows: Attribute, months_after: Callable
) -> None:
    visit = click(START - timedelta(days=59))
    first = sim.subscription_checkout(START, 9900, click_id=visit["click_id"])
    a_year_later = sim.renewal(first.sub, months_after(START, 12))

    conversions, _ = attribute_flows([first, a_year_later], [visit])

    assert conversions["payment_id"].to_list() == [first.invoice, a_year_later.invoice]


def test_renewals_of_an_unattributed_subscription_keep_its_reason(
    sim: StripeSim, click: Callable, attribute_flows: Attribute, months_after: Callable
) -> None:
    expired = click(START - timedelta(days=90))
    first = sim.subscription_checkout(START, 9900, click_id=expired["click_id"])
    renewal = sim.renewal(first.sub, months_after(START, 1))

    conversions, unattributed = attribute_flows([first, renewal], [expired])

    assert conversions.is_empty()
    assert unattributed["payment_id"].to_list() == [first.invoice, renewal.invoice]
    assert reasons(unattributed) == ["click_expired", "click_expired"]


def test_trial_subscription_is_attributed_to_the_click_on_its_checkout(
    sim: StripeSim, click: Callable, attribute_flows: Attribute
) -> None:
    visit = click(START - timedelta(days=1))
    trial = sim.subscription_checkout(START, 9900, click_id=visit["click_id"], trial_days=14)
    first_paid = sim.renewal(trial.sub, START + timedelta(days=14))

    conversions, unattributed = attribute_flows([trial, first_paid], [visit])

    assert unattributed.is_empty()
    assert conversions["payment_id"].to_list() == [first_paid.invoice]


def test_later_purchase_by_the_same_customer_without_a_click_inherits_from_the_customer(
    sim: StripeSim, click: Callable, attribute_flows: Attribute
) -> None:
    visit = click(START - timedelta(days=3), offer="lifetime-10", affiliate="omar")
    first = sim.one_time_checkout(START, 4900, click_id=visit["click_id"])
    later = sim.one_time_checkout(START + timedelta(days=100), 7000, customer=first.customer)

    conversions, unattributed = attribute_flows([first, later], [visit])

    assert unattributed.is_empty()
    inherited = conversions.filter(pl.col("payment_id") == later.payment_intent).row(0, named=True)
    assert inherited["click_id_source"] == "customer"
    assert (inherited["click_id"], inherited["affiliate_id"]) == (visit["click_id"], "omar")


def test_earlier_purchase_of_a_customer_does_not_inherit_a_later_click(
    sim: StripeSim, click: Callable, attribute_flows: Attribute
) -> None:
    before = sim.one_time_checkout(START, 1900)
    visit = click(START + timedelta(days=9))
    after = sim.one_time_checkout(
        START + timedelta(days=10), 4900, customer=before.customer, click_id=visit["click_id"]
    )

    conversions, unattributed = attribute_flows([before, after], [visit])

    assert conversions["payment_id"].to_list() == [after.payment_intent]
    assert unattributed["payment_id"].to_list() == [before.payment_intent]
    assert reasons(unattributed) == ["no_click_id"]


def test_every_payment_is_either_a_conversion_or_unattributed(
    sim: StripeSim, click: Callable, attribute_flows: Attribute, payments_of: Callable
) -> None:
    good, bot = click(START - timedelta(days=1)), click(START - timedelta(days=1), is_bot=True)
    flows = [
        sim.one_time_checkout(START, 4900, click_id=good["click_id"]),
        sim.one_time_checkout(START, 4900, click_id=bot["click_id"]),
        sim.one_time_checkout(START, 4900, click_id="garbage"),
        sim.direct_payment_intent(START, 2500),
        sim.bare_charge(START, 1500),
    ]

    conversions, unattributed = attribute_flows(flows, [good, bot])

    assert sorted(conversions["payment_id"].to_list() + unattributed["payment_id"].to_list()) == sorted(
        payments_of(*flows)["payment_id"].to_list()
    )


# test mode ---------------------------------------------------------------------------------


def test_test_mode_payment_is_attributed_but_not_commissionable(
    click: Callable, evaluate_flows: Callable, offers_frame: Callable
) -> None:
    visit = click(START - timedelta(days=1))
    flow = StripeSim(seed=5, livemode=False).one_time_checkout(START, 4900, click_id=visit["click_id"])

    evaluated = evaluate_flows([flow], [visit], offers_frame())

    conversion = evaluated.row(0, named=True)
    assert (conversion["livemode"], conversion["affiliate_id"]) == (False, "jane")
    assert conversion["commissionable"] is False
    assert conversion["not_commissionable_reason"] == "test_mode"
    assert conversion["commission_minor"] == 0
