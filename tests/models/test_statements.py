"""Affiliate statements: what the ledger owes per period, affiliate and currency; test mode never owes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import polars as pl

from attro.stripe_sim import StripeSim
from models.commissions import commission_lines
from models.statements import affiliate_statements

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
