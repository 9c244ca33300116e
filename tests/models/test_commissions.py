"""Commissions: which attributed payments earn, how much under the offer's terms, and the ledger lines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from core.contracts import OFFER_TIER
from models.commissions import commission_lines, evaluate_conversions
from models.holding import with_status
from simulator.stripe import StripeSim

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
Factory = Callable[..., pl.DataFrame]


def by_payment_number(evaluated: pl.DataFrame) -> pl.DataFrame:
    return evaluated.sort("payment_number")


# the documented worked example ------------------------------------------------------------


def test_worked_example_99_a_month_at_20_percent_for_12_months_pays_237_60(
    sim: StripeSim,
    click: Callable,
    evaluate_flows: Callable,
    offer: Callable,
    offers_frame: Factory,
    months_after: Callable,
) -> None:
    offers = offers_frame(offer("pro-20"))  # 20%, fixed_period 12 months
    visit = click(START - timedelta(days=2), offer="pro-20")
    first = sim.subscription_checkout(START, 9900, click_id=visit["click_id"])
    renewals = [sim.renewal(first.sub, months_after(START, n)) for n in range(1, 13)]

    evaluated = by_payment_number(evaluate_flows([first, *renewals], [visit], offers))
    lines = commission_lines(evaluated, now=months_after(START, 14))

    assert evaluated["payment_number"].to_list() == list(range(1, 14))
    assert evaluated["commission_minor"].to_list() == [1980] * 12 + [0]
    assert evaluated["not_commissionable_reason"].to_list() == [None] * 12 + ["outside_recurring_period"]
    assert lines["amount_minor"].to_list() == [1980] * 12
    assert lines["amount_minor"].sum() == 23760


def test_fixed_period_ends_on_the_anniversary_day_of_the_first_payment(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    day_before = START.replace(year=2027) - timedelta(days=1)  # 2027-01-14, still inside 12 months
    # the anniversary renewal, paid a few seconds earlier in the day than the first payment was
    anniversary = START.replace(year=2027) - timedelta(seconds=5)
    conversions = conversions_frame(
        conversion(9900, payment_number=12, at=day_before, first_at=START),
        conversion(9900, payment_number=13, at=anniversary, first_at=START),
    )

    evaluated = by_payment_number(evaluate_conversions(conversions, offers_frame(offer("pro-20"))))

    assert evaluated["commission_minor"].to_list() == [1980, 0]
    assert evaluated["not_commissionable_reason"].to_list() == [None, "outside_recurring_period"]


# recurring terms ---------------------------------------------------------------------------


def test_first_payment_offer_pays_only_payment_1(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    offers = offers_frame(offer("pro-20", recurring="first_payment"))
    conversions = conversions_frame(
        *(
            conversion(9900, payment_number=n, at=START + timedelta(days=30 * (n - 1)), first_at=START)
            for n in (1, 2, 3)
        )
    )

    evaluated = by_payment_number(evaluate_conversions(conversions, offers))

    assert evaluated["commission_minor"].to_list() == [1980, 0, 0]
    assert evaluated["commissionable"].to_list() == [True, False, False]
    assert evaluated["not_commissionable_reason"].to_list()[1:] == ["outside_recurring_period"] * 2


def test_lifetime_offer_pays_every_payment_however_late(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    offers = offers_frame(offer("lifetime-10"))
    conversions = conversions_frame(
        conversion(4900, offer="lifetime-10", payment_number=1, at=START),
        conversion(
            4900, offer="lifetime-10", payment_number=2, at=START + timedelta(days=31), first_at=START
        ),
        conversion(
            4900, offer="lifetime-10", payment_number=60, at=START + timedelta(days=1826), first_at=START
        ),
    )

    evaluated = by_payment_number(evaluate_conversions(conversions, offers))

    assert evaluated["commission_minor"].to_list() == [490, 490, 490]
    assert evaluated["commissionable"].all()


def test_the_customer_cap_fills_in_payment_order_whatever_order_the_conversions_come_in(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    offers = offers_frame({**offer("lifetime-10", currency="usd"), "max_customer_commission_minor": 1000})
    payments = [
        conversion(
            4900,
            offer="lifetime-10",
            payment_number=n,
            at=START + timedelta(days=31 * (n - 1)),
            first_at=START,
        )
        for n in (1, 2, 3)
    ]

    evaluated = by_payment_number(evaluate_conversions(conversions_frame(*reversed(payments)), offers))

    # 490 a payment: the first two fill 980 of the 1000, the third gets the 20 left
    assert evaluated["commission_minor"].to_list() == [490, 490, 20]


def test_tiers_count_the_months_initial_conversions_in_payment_order_whatever_order_they_come_in(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    offers = offers_frame({**offer("pro-20"), "version": 1})
    tiers = pl.DataFrame(
        [{"offer_id": "pro-20", "version": 1, "name": "top", "min_conversions": 2, "percent": Decimal(30)}],
        schema=OFFER_TIER,
    )
    sales = [conversion(10000, at=START + timedelta(days=n), payment_id=f"pi_{n}") for n in (1, 2, 3)]

    evaluated = evaluate_conversions(conversions_frame(*reversed(sales)), offers, tiers).sort("occurred_at")

    assert evaluated["month_initial_conversions"].to_list() == [1, 2, 3]
    assert evaluated["tier"].to_list() == [None, "top", "top"]
    assert evaluated["commission_minor"].to_list() == [2000, 3000, 3000]


# amounts -----------------------------------------------------------------------------------


def test_flat_offer_pays_its_amount_per_payment_in_its_currency(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    offers = offers_frame(
        offer("flat-5", type="flat", amount_minor=500, currency="usd", recurring="lifetime")
    )
    conversions = conversions_frame(
        conversion(9900, offer="flat-5", payment_number=1, at=START),
        conversion(1900, offer="flat-5", payment_number=2, at=START + timedelta(days=31), first_at=START),
    )

    evaluated = by_payment_number(evaluate_conversions(conversions, offers))

    assert evaluated["commission_minor"].to_list() == [500, 500]
    assert evaluated["commissionable"].all()


def test_flat_offer_does_not_pay_a_payment_in_another_currency(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    offers = offers_frame(offer("ebook-flat"))  # flat 500 usd
    conversions = conversions_frame(
        conversion(1900, offer="ebook-flat", currency="usd", payment_id="pi_usd"),
        conversion(1900, offer="ebook-flat", currency="eur", payment_id="pi_eur"),
    )

    evaluated = evaluate_conversions(conversions, offers).sort("payment_id")

    assert evaluated["payment_id"].to_list() == ["pi_eur", "pi_usd"]
    assert evaluated["commission_minor"].to_list() == [0, 500]
    assert evaluated["not_commissionable_reason"].to_list() == ["currency_mismatch", None]


def test_percent_offer_excludes_tax_from_the_base(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    conversions = conversions_frame(
        conversion(11900, tax_minor=2000, payment_id="pi_taxed"),
        conversion(9900, payment_id="pi_untaxed"),
    )

    evaluated = evaluate_conversions(conversions, offers_frame(offer("pro-20"))).sort("payment_id")

    assert evaluated["base_amount_minor"].to_list() == [9900, 9900]
    assert evaluated["commission_minor"].to_list() == [1980, 1980]
    assert evaluated["rule"][0].startswith("20% of 9900 usd (excl. 2000 tax), ")


def test_commission_rounds_half_up_at_the_minor_unit(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    offers = offers_frame(offer("eighth", type="percent", percent="12.5"), offer("pro-20"))
    conversions = conversions_frame(
        conversion(4, offer="eighth", payment_id="pi_a"),  # 0.5 -> 1
        conversion(3, offer="eighth", payment_id="pi_b"),  # 0.375 -> 0
        conversion(9999, offer="pro-20", payment_id="pi_c"),  # 1999.8 -> 2000
    )

    evaluated = evaluate_conversions(conversions, offers).sort("payment_id")

    assert evaluated["commission_minor"].to_list() == [1, 0, 2000]


def test_commission_that_rounds_to_zero_is_not_commissionable(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    offers = offers_frame(offer("eighth", type="percent", percent="12.5"))
    conversions = conversions_frame(conversion(3, offer="eighth", payment_id="pi_b"))

    evaluated = evaluate_conversions(conversions, offers)

    assert evaluated["not_commissionable_reason"].to_list() == ["zero_commission"]
    assert commission_lines(evaluated, now=START).is_empty()


def test_single_conversion_is_evaluated(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    evaluated = evaluate_conversions(conversions_frame(conversion(9900)), offers_frame(offer("pro-20")))

    assert evaluated["commission_minor"].to_list() == [1980]


def test_conversion_of_an_offer_missing_from_the_program_earns_nothing(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    conversions = conversions_frame(conversion(9900, offer="retired"), conversion(9900, payment_id="pi_ok"))

    evaluated = evaluate_conversions(conversions, offers_frame(offer("pro-20"))).sort("offer_id")

    assert evaluated["not_commissionable_reason"].to_list() == [None, "unknown_offer"]
    assert evaluated["commission_minor"].to_list() == [1980, 0]


# the readable rule -------------------------------------------------------------------------


def test_rule_reads_rate_base_payment_and_month_of_the_period(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    conversions = conversions_frame(
        conversion(9900, payment_number=1, at=START),
        conversion(9900, payment_number=3, at=datetime(2026, 3, 15, 10, tzinfo=UTC), first_at=START),
    )

    evaluated = by_payment_number(evaluate_conversions(conversions, offers_frame(offer("pro-20"))))

    assert evaluated["rule"].to_list() == [
        "20% of 9900 usd, payment 1, month 1 of 12",
        "20% of 9900 usd, payment 3, month 3 of 12",
    ]


def test_rule_counts_months_from_a_month_end_start(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    jan_31 = datetime(2026, 1, 31, 10, tzinfo=UTC)
    conversions = conversions_frame(
        conversion(9900, payment_number=1, at=jan_31),
        conversion(9900, payment_number=2, at=datetime(2026, 2, 28, 10, tzinfo=UTC), first_at=jan_31),
        conversion(9900, payment_number=3, at=datetime(2026, 3, 31, 10, tzinfo=UTC), first_at=jan_31),
    )

    evaluated = by_payment_number(evaluate_conversions(conversions, offers_frame(offer("pro-20"))))

    assert [r.split(", ")[-1] for r in evaluated["rule"]] == [
        "month 1 of 12",
        "month 2 of 12",
        "month 3 of 12",
    ]


def test_rule_reads_lifetime_flat_and_fractional_percent_terms(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    offers = offers_frame(
        offer("lifetime-10"), offer("ebook-flat"), offer("eighth", type="percent", percent="12.5")
    )
    conversions = conversions_frame(
        conversion(4900, offer="lifetime-10", payment_number=2, first_at=START - timedelta(days=31)),
        conversion(1900, offer="ebook-flat"),
        conversion(800, offer="eighth"),
    )

    evaluated = evaluate_conversions(conversions, offers).sort("offer_id")

    assert evaluated["rule"].to_list() == [
        "flat 500 usd per payment, first payment",
        "12.5% of 800 usd, first payment",
        "10% of 4900 usd, payment 2 (lifetime)",
    ]


# ledger lines and the holding period -------------------------------------------------------


def test_commission_line_carries_the_conversion_and_its_period(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    offers = offers_frame(offer("pro-20"))
    evaluated = evaluate_conversions(
        conversions_frame(conversion(9900, payment_id="in_1"), conversion(4900, payment_id="in_2")), offers
    )

    line = commission_lines(evaluated, now=START).row(0, named=True)

    assert line["line_id"] == "cv_in_1:commission"
    assert (line["kind"], line["affiliate_id"], line["offer_id"]) == ("commission", "jane", "pro-20")
    assert (line["base_amount_minor"], line["amount_minor"], line["currency"]) == (9900, 1980, "usd")
    assert (line["earned_at"], line["period"]) == (START, "2026-01")
    assert line["rule"] == "20% of 9900 usd, payment 1, month 1 of 12"


def test_not_commissionable_conversions_make_no_lines(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    offers = offers_frame(offer("pro-20", recurring="first_payment"))
    conversions = conversions_frame(
        conversion(9900, livemode=False, payment_id="pi_test"),
        conversion(9900, payment_number=2, first_at=START - timedelta(days=31), payment_id="in_renewal"),
    )

    assert commission_lines(evaluate_conversions(conversions, offers), now=START).is_empty()


@pytest.fixture
def held_for(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> Callable[[int], pl.DataFrame]:
    """`held_for(days)`: two first payments at START (99.00 and 49.00) evaluated under pro-20 with
    `days` holding days."""

    def evaluate(holding_days: int) -> pl.DataFrame:
        offers = offers_frame(offer("pro-20", holding_days=holding_days))
        return evaluate_conversions(
            conversions_frame(conversion(9900), conversion(4900, payment_id="b")), offers
        )

    return evaluate


def test_line_is_pending_before_payable_on_and_approved_from_it(held_for: Callable) -> None:
    evaluated = held_for(30)

    day_before = commission_lines(evaluated, now=datetime(2026, 2, 13, 23, 59, tzinfo=UTC))
    on_the_day = commission_lines(evaluated, now=datetime(2026, 2, 14, 0, 0, tzinfo=UTC))

    assert set(day_before["payable_on"]) == {date(2026, 2, 14)}
    assert set(day_before["status"]) == {"pending"}
    assert set(on_the_day["status"]) == {"approved"}


def test_rerun_with_a_later_now_changes_status_never_amounts(
    conversion: Callable, conversions_frame: Factory, offers_frame: Factory, offer: Callable
) -> None:
    offers = offers_frame(offer("pro-20"))
    evaluated = evaluate_conversions(
        conversions_frame(conversion(9900), conversion(4900, at=START + timedelta(days=40), payment_id="b")),
        offers,
    )

    early = commission_lines(evaluated, now=START + timedelta(days=1))
    late = commission_lines(evaluated, now=START + timedelta(days=400))

    assert early["status"].to_list() == ["pending", "pending"]
    assert late["status"].to_list() == ["approved", "approved"]
    assert_frame_equal(early.drop("status"), late.drop("status"))


def test_zero_holding_days_approves_on_the_day_earned(held_for: Callable) -> None:
    evaluated = held_for(0)

    lines = commission_lines(evaluated, now=START)

    assert set(lines["payable_on"]) == {START.date()}
    assert set(lines["status"]) == {"approved"}


def test_with_status_only_rewrites_the_status(line: Callable, lines_frame: Factory) -> None:
    lines = lines_frame(line(1980, status="pending"), line(990, status="pending"))

    restated = with_status(lines, now=datetime(2030, 1, 1, tzinfo=UTC))

    assert restated["status"].to_list() == ["approved", "approved"]
    assert_frame_equal(restated.drop("status"), lines.drop("status"))
