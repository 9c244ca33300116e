"""Affiliate statements: what the ledger owes per period, affiliate and currency, balances carried
forward, closed periods kept as frozen; test mode never owes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from core.contracts import STATEMENT
from models.commissions import commission_lines
from models.statements import affiliate_statements, forced_carry
from simulator.stripe import StripeSim

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
Factory = Callable[..., pl.DataFrame]


def statement(statements: pl.DataFrame, period: str, affiliate: str, currency: str) -> dict:
    rows = statements.filter(
        (pl.col("period") == period)
        & (pl.col("affiliate_id") == affiliate)
        & (pl.col("currency") == currency)
    )
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def test_statement_sums_lines_per_period_affiliate_and_currency(line: Callable, lines_frame: Factory) -> None:
    lines = lines_frame(
        line(1980, period="2026-01", affiliate="jane", currency="usd"),
        line(1980, period="2026-01", affiliate="jane", currency="usd"),
        line(500, period="2026-01", affiliate="jane", currency="eur"),
        line(1980, period="2026-02", affiliate="jane", currency="usd"),
        line(990, period="2026-01", affiliate="omar", currency="usd"),
    )

    statements = affiliate_statements(lines)

    assert statements.select(
        "period", "affiliate_id", "currency", "gross_minor", "net_minor", "line_count"
    ).rows() == [
        ("2026-01", "jane", "eur", 500, 500, 1),
        ("2026-01", "jane", "usd", 3960, 3960, 2),
        ("2026-01", "omar", "usd", 990, 990, 1),
        ("2026-02", "jane", "usd", 1980, 1980, 1),
    ]


def test_reversals_and_reinstatements_move_net_not_gross(line: Callable, lines_frame: Factory) -> None:
    lines = lines_frame(
        line(1980, kind="commission"),
        line(-990, kind="reversal"),
        line(990, kind="reinstatement"),
        line(-1980, kind="reversal"),
    )

    jane = statement(affiliate_statements(lines), "2026-01", "jane", "usd")

    assert (jane["gross_minor"], jane["reversals_minor"], jane["reinstatements_minor"]) == (1980, -2970, 990)
    assert jane["net_minor"] == 0
    assert (jane["commission_lines"], jane["reversal_lines"], jane["line_count"]) == (1, 2, 4)


def test_statement_splits_approved_from_pending(line: Callable, lines_frame: Factory) -> None:
    lines = lines_frame(
        line(1980, status="approved"), line(990, status="pending"), line(500, status="pending")
    )

    jane = statement(affiliate_statements(lines), "2026-01", "jane", "usd")

    assert (jane["approved_minor"], jane["pending_minor"], jane["net_minor"]) == (1980, 1490, 3470)


def test_void_lines_are_left_out(line: Callable, lines_frame: Factory) -> None:
    lines = lines_frame(line(1980), line(990, status="void"))

    jane = statement(affiliate_statements(lines), "2026-01", "jane", "usd")

    assert (jane["gross_minor"], jane["line_count"]) == (1980, 1)


def test_test_mode_lines_never_appear_in_statements(line: Callable, lines_frame: Factory) -> None:
    lines = lines_frame(
        line(1980, livemode=True),
        line(5000, livemode=False),
        line(990, livemode=False, affiliate="omar"),
    )

    statements = affiliate_statements(lines)

    assert statements.select("affiliate_id", "net_minor").rows() == [("jane", 1980)]


def test_statement_of_an_open_period_is_not_closed(line: Callable, lines_frame: Factory) -> None:
    assert affiliate_statements(lines_frame(line(1980)))["closed_at"].to_list() == [None]


def test_test_mode_payments_never_reach_a_statement_end_to_end(
    click: Callable, evaluate_flows: Callable, offers_frame: Factory, offer: Callable
) -> None:
    offers = offers_frame(offer("lifetime-10"))
    live_visit = click(START - timedelta(days=1), offer="lifetime-10", affiliate="omar")
    test_visit = click(START - timedelta(days=1), offer="lifetime-10", affiliate="omar")
    live = StripeSim(seed=1, livemode=True).one_time_checkout(START, 4900, click_id=live_visit["click_id"])
    test = StripeSim(seed=2, livemode=False).one_time_checkout(START, 9900, click_id=test_visit["click_id"])

    evaluated = evaluate_flows([live, test], [live_visit, test_visit], offers)
    statements = affiliate_statements(commission_lines(evaluated, now=START + timedelta(days=60)))

    assert statements.select("period", "affiliate_id", "currency", "net_minor", "approved_minor").rows() == [
        ("2026-01", "omar", "usd", 490, 490)
    ]


# balances carried between periods; a closed period's frozen statement -------------------------


def by_period(statements: pl.DataFrame, *columns: str) -> dict[str, tuple]:
    return {row[0]: tuple(row[1:]) for row in statements.select("period", *columns).rows()}


BALANCE = (
    "opening_balance_minor",
    "net_minor",
    "closing_balance_minor",
    "payable_minor",
    "carried_forward_minor",
)


def test_a_negative_balance_is_carried_forward_not_paid_out_as_a_negative(
    line: Callable, lines_frame: Factory
) -> None:
    ledger = lines_frame(
        line(1000, period="2026-01"),
        line(-1500, period="2026-02", kind="reversal"),  # more taken back than earned this month
        line(800, period="2026-03"),
        line(1000, period="2026-04"),
    )

    statements = affiliate_statements(ledger)

    assert by_period(statements, *BALANCE) == {
        "2026-01": (0, 1000, 1000, 1000, 0),
        "2026-02": (0, -1500, -1500, 0, -1500),  # January's 1000 was payable, not carried
        "2026-03": (-1500, 800, -700, 0, -700),
        "2026-04": (-700, 1000, 300, 300, 0),
    }


def test_balances_carry_per_affiliate_and_currency(line: Callable, lines_frame: Factory) -> None:
    ledger = lines_frame(
        line(-500, period="2026-01", kind="reversal", currency="usd"),
        line(700, period="2026-02", currency="eur"),
        line(900, period="2026-02", affiliate="omar"),
        line(600, period="2026-02", currency="usd"),
    )

    statements = affiliate_statements(ledger).sort("period", "affiliate_id", "currency")

    assert statements.select("period", "affiliate_id", "currency", *BALANCE).rows() == [
        ("2026-01", "jane", "usd", 0, -500, -500, 0, -500),
        ("2026-02", "jane", "eur", 0, 700, 700, 700, 0),
        ("2026-02", "jane", "usd", -500, 600, 100, 100, 0),
        ("2026-02", "omar", "usd", 0, 900, 900, 900, 0),
    ]


def test_gross_reversals_reinstatements_and_approved_vs_pending(line: Callable, lines_frame: Factory) -> None:
    ledger = lines_frame(
        line(1980, period="2026-03"),
        line(500, period="2026-03", status="pending"),
        line(-660, period="2026-03", kind="reversal"),
        line(400, period="2026-03", kind="reinstatement", status="pending"),
        line(999, period="2026-03", status="void"),
        line(-999, period="2026-03", kind="reversal", status="void"),
        line(777, period="2026-03", livemode=False),
    )

    (row,) = affiliate_statements(ledger).rows(named=True)

    assert (row["gross_minor"], row["reversals_minor"], row["reinstatements_minor"]) == (2480, -660, 400)
    assert row["net_minor"] == 2480 - 660 + 400
    assert (row["approved_minor"], row["pending_minor"]) == (1980 - 660, 500 + 400)
    assert row["closing_balance_minor"] == 2220
    # only approved lines can be paid now; pending ones become payable once approved
    assert row["payable_minor"] == max(0, row["opening_balance_minor"] + row["approved_minor"]) == 1320
    counts = ("commission_lines", "reversal_lines", "reinstatement_lines", "line_count")
    assert tuple(row[c] for c in counts) == (2, 1, 1, 4)
    assert row["closed_at"] is None


def test_a_frozen_statement_is_kept_as_closed_and_its_negative_balance_carries(
    line: Callable, lines_frame: Factory
) -> None:
    closed_at = datetime(2026, 2, 3, 9, 0, tzinfo=UTC)
    frozen = pl.DataFrame(
        [
            {
                "period": "2026-01",
                "affiliate_id": "jane",
                "currency": "usd",
                "opening_balance_minor": 0,
                "gross_minor": 0,
                "reversals_minor": -500,
                "reinstatements_minor": 0,
                "net_minor": -500,
                "closing_balance_minor": -500,
                "payable_minor": 0,
                "carried_forward_minor": -500,
                "approved_minor": -500,
                "pending_minor": 0,
                "commission_lines": 0,
                "reversal_lines": 1,
                "reinstatement_lines": 0,
                "line_count": 1,
                "closed_at": closed_at,
            }
        ],
        schema=STATEMENT,
    )
    # January's lines as recomputed today differ: the frozen statement wins
    ledger = lines_frame(line(-800, period="2026-01", kind="reversal"), line(2000, period="2026-02"))

    statements = affiliate_statements(ledger, frozen, {"2026-01": closed_at})

    assert by_period(statements, *BALANCE, "closed_at") == {
        "2026-01": (0, -500, -500, 0, -500, closed_at),
        "2026-02": (-500, 2000, 1500, 1500, 0, None),
    }


def _close(statements: pl.DataFrame, period: str, closed_at: datetime) -> pl.DataFrame:
    """The frozen statements of `period` as `attro close-period` keeps them (attro/closing.py)."""
    return statements.filter(pl.col("period") == period).with_columns(
        forced_carry(), closed_at=pl.lit(closed_at)
    )


def test_a_month_closed_with_pending_sales_carries_its_debt_whole(
    line: Callable, lines_frame: Factory
) -> None:
    # Audit: closed with --force, October's refund (-1000, approved) was set against November's
    # pending sale (+2000), so nothing carried; the pending 2000 is paid apart once approved, and the
    # -1000 vanished: the affiliate was paid 30.00 for 20.00 earned.
    ledger = lines_frame(
        line(-1000, period="2026-11", kind="reversal", status="approved"),
        line(2000, period="2026-11", status="pending"),
        line(1500, period="2026-12", status="approved"),
    )
    closed_at = datetime(2026, 12, 2, tzinfo=UTC)
    frozen = _close(affiliate_statements(ledger), "2026-11", closed_at)

    statements = affiliate_statements(ledger, frozen, {"2026-11": closed_at})

    assert by_period(statements, *BALANCE, "pending_minor") == {
        # opening, net, closing, payable, carried, pending (paid apart once approved)
        "2026-11": (0, 1000, 1000, 0, -1000, 2000),
        "2026-12": (-1000, 1500, 500, 500, 0, 0),
    }


def test_a_month_closed_with_pending_reversals_carries_them_as_a_debt(
    line: Callable, lines_frame: Factory
) -> None:
    ledger = lines_frame(
        line(2000, period="2026-11", status="approved"),
        line(-3000, period="2026-11", kind="reversal", status="pending"),
        line(1000, period="2026-12", status="approved"),
    )
    closed_at = datetime(2026, 12, 2, tzinfo=UTC)
    frozen = _close(affiliate_statements(ledger), "2026-11", closed_at)

    statements = affiliate_statements(ledger, frozen, {"2026-11": closed_at})

    assert by_period(statements, *BALANCE) == {
        "2026-11": (0, -1000, -1000, 2000, -3000),  # 2000 paid at closing, the pending 3000 owed back
        "2026-12": (-3000, 1000, -2000, 0, -2000),
    }


def test_a_month_closed_out_of_order_passes_an_earlier_open_months_debt_on(
    line: Callable, lines_frame: Factory
) -> None:
    # Audit: September open, October closed; a late refund of an August sale lands in September: its
    # debt stopped at frozen October, and every later month opened at 0.
    closed_at = datetime(2026, 11, 2, tzinfo=UTC)
    before = lines_frame(line(500, period="2026-10", status="approved"))
    frozen = _close(affiliate_statements(before), "2026-10", closed_at)
    ledger = lines_frame(
        line(-1000, period="2026-09", kind="reversal", status="approved"),
        line(500, period="2026-10", status="approved"),
        line(800, period="2026-11", status="approved"),
        line(900, period="2026-12", status="approved"),
    )

    statements = affiliate_statements(ledger, frozen, {"2026-10": closed_at})

    assert by_period(statements, *BALANCE) == {
        "2026-09": (0, -1000, -1000, 0, -1000),
        "2026-10": (0, 500, 500, 500, 0),  # frozen as closed
        "2026-11": (-1000, 800, -200, 0, -200),
        "2026-12": (-200, 900, 700, 700, 0),
    }


def test_a_debt_passed_through_the_affiliates_last_statement_shows_in_the_next_open_month(
    line: Callable, lines_frame: Factory
) -> None:
    # Review: as above with nothing after October: the debt was carried on (the next sale pays it off
    # first) but no statement said so, and the admin's carried forward (the latest one's) read 0.
    closed_at = datetime(2026, 11, 2, tzinfo=UTC)
    october = line(500, period="2026-10", status="approved")
    frozen = _close(affiliate_statements(lines_frame(october)), "2026-10", closed_at)
    ledger = lines_frame(line(-1000, period="2026-09", kind="reversal", status="approved"), october)

    statements = affiliate_statements(ledger, frozen, {"2026-10": closed_at})

    assert by_period(statements, *BALANCE) == {
        "2026-09": (0, -1000, -1000, 0, -1000),
        "2026-10": (0, 500, 500, 500, 0),  # frozen as closed
        "2026-11": (-1000, 0, -1000, 0, -1000),  # the debt, carried on
    }


@pytest.mark.parametrize("later_sale", [True, False], ids=["with-a-later-statement", "none-later"])
def test_a_debt_a_closed_month_was_set_against_is_paid_back_when_it_goes_away(
    line: Callable, lines_frame: Factory, later_sale: bool
) -> None:
    # October closed opening at September's -1000 (paid 500 of 1500); a late sale in September, still
    # open, then covers the debt: the 1000 October held back is owed in November, in a statement of
    # its own when the affiliate sold nothing more (the review: on no statement, paid nowhere).
    closed_at = datetime(2026, 11, 2, tzinfo=UTC)
    debt, october = (
        line(-1000, period="2026-09", kind="reversal", status="approved"),
        line(1500, period="2026-10", status="approved"),
    )
    frozen = _close(affiliate_statements(lines_frame(debt, october)), "2026-10", closed_at)
    assert frozen.row(0, named=True)["opening_balance_minor"] == -1000
    later = [line(300, period="2026-11", status="approved")] if later_sale else []
    ledger = lines_frame(debt, line(1000, period="2026-09", status="approved"), october, *later)

    statements = affiliate_statements(ledger, frozen, {"2026-10": closed_at})

    november = (1000, 300, 1300, 1300, 0) if later_sale else (1000, 0, 1000, 1000, 0)
    assert by_period(statements, *BALANCE) == {
        "2026-09": (0, 0, 0, 0, 0),
        "2026-10": (-1000, 1500, 500, 500, 0),  # frozen as closed
        "2026-11": november,
    }
    assert statements["payable_minor"].sum() == 1500 + (300 if later_sale else 0)  # all earned, once


def test_a_month_closed_while_an_earlier_one_waits_on_a_pending_sale_is_paid_in_full(
    line: Callable, lines_frame: Factory
) -> None:
    # Review: September's refund and pending sale cancel out; October, closed first, must not be cut by
    # the refund alone (it was, and the 1000 came back on no statement once the sale was approved).
    closed_at = datetime(2026, 11, 2, tzinfo=UTC)
    refund, october = (
        line(-1000, period="2026-09", kind="reversal", status="approved"),
        line(1500, period="2026-10", status="approved"),
    )
    before = lines_frame(refund, line(1000, period="2026-09", status="pending"), october)
    frozen = _close(affiliate_statements(before), "2026-10", closed_at)
    ledger = lines_frame(refund, line(1000, period="2026-09", status="approved"), october)

    statements = affiliate_statements(ledger, frozen, {"2026-10": closed_at})

    assert by_period(statements, "opening_balance_minor", "payable_minor") == {
        "2026-09": (0, 0),
        "2026-10": (0, 1500),
    }
