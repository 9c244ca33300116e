"""Affiliate statements: negative balances carried forward, payable, approved vs pending, closed_at."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from models.commissions import COMMISSION_LINE_SCHEMA
from models.statements import STATEMENT_SCHEMA, affiliate_statements

_IDS = itertools.count(1)


def line(
    amount: int,
    period: str,
    kind: str = "commission",
    status: str = "approved",
    *,
    affiliate: str = "jane",
    currency: str = "usd",
    livemode: bool = True,
) -> dict[str, Any]:
    earned = datetime.fromisoformat(f"{period}-10T10:00").replace(tzinfo=UTC)
    n = next(_IDS)
    return {
        "line_id": f"cv_{n}:{kind}",
        "conversion_id": f"cv_{n}",
        "payment_id": f"pi_{n}",
        "affiliate_id": affiliate,
        "offer_id": "pro-20",
        "kind": kind,
        "rule": "hand-made",
        "base_amount_minor": abs(amount),
        "amount_minor": amount,
        "currency": currency,
        "earned_at": earned,
        "payable_on": earned.date() + timedelta(days=30),
        "period": period,
        "status": status,
        "livemode": livemode,
    }


def lines(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=COMMISSION_LINE_SCHEMA)


def by_period(statements: pl.DataFrame, *columns: str) -> dict[str, tuple]:
    return {row[0]: tuple(row[1:]) for row in statements.select("period", *columns).rows()}


BALANCE = (
    "opening_balance_minor",
    "net_minor",
    "closing_balance_minor",
    "payable_minor",
    "carried_forward_minor",
)


def test_a_negative_balance_is_carried_forward_not_paid_out_as_a_negative() -> None:
    ledger = lines(
        line(1000, "2026-01"),
        line(-1500, "2026-02", "reversal"),  # more taken back than earned this month
        line(800, "2026-03"),
        line(1000, "2026-04"),
    )

    statements = affiliate_statements(ledger)

    assert by_period(statements, *BALANCE) == {
        "2026-01": (0, 1000, 1000, 1000, 0),
        "2026-02": (0, -1500, -1500, 0, -1500),  # January's 1000 was payable, not carried
        "2026-03": (-1500, 800, -700, 0, -700),
        "2026-04": (-700, 1000, 300, 300, 0),
    }


def test_balances_carry_per_affiliate_and_currency() -> None:
    ledger = lines(
        line(-500, "2026-01", "reversal", currency="usd"),
        line(700, "2026-02", currency="eur"),
        line(900, "2026-02", affiliate="omar"),
        line(600, "2026-02", currency="usd"),
    )

    statements = affiliate_statements(ledger).sort("period", "affiliate_id", "currency")

    assert statements.select("period", "affiliate_id", "currency", *BALANCE).rows() == [
        ("2026-01", "jane", "usd", 0, -500, -500, 0, -500),
        ("2026-02", "jane", "eur", 0, 700, 700, 700, 0),
        ("2026-02", "jane", "usd", -500, 600, 100, 100, 0),
        ("2026-02", "omar", "usd", 0, 900, 900, 900, 0),
    ]


def test_gross_reversals_reinstatements_and_approved_vs_pending() -> None:
    ledger = lines(
        line(1980, "2026-03"),
        line(500, "2026-03", status="pending"),
        line(-660, "2026-03", "reversal"),
        line(400, "2026-03", "reinstatement", status="pending"),
        line(999, "2026-03", status="void"),
        line(-999, "2026-03", "reversal", status="void"),
        line(777, "2026-03", livemode=False),
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


def test_a_frozen_statement_is_kept_as_closed_and_its_negative_balance_carries() -> None:
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
        schema=STATEMENT_SCHEMA,
    )
    # January's lines as recomputed today differ: the frozen statement wins
    ledger = lines(line(-800, "2026-01", "reversal"), line(2000, "2026-02"))

    statements = affiliate_statements(ledger, frozen, {"2026-01": closed_at})

    assert by_period(statements, *BALANCE, "closed_at") == {
        "2026-01": (0, -500, -500, 0, -500, closed_at),
        "2026-02": (-500, 2000, 1500, 1500, 0, None),
    }


def test_published_statements_of_a_closed_period_carry_closed_at(closed_jan_site: Any) -> None:
    statements = closed_jan_site.statements()

    closed = statements.filter(pl.col("period") == "2026-01")
    assert closed.height == 5
    assert set(closed["closed_at"]) == {datetime(2026, 3, 20, 12, 0, tzinfo=UTC)}
    assert statements.filter(pl.col("period") != "2026-01")["closed_at"].is_null().all()


def test_published_statements_sum_the_published_lines(base_site: Any) -> None:
    statements = base_site.statements()
    live = base_site.lines().filter(pl.col("livemode") & (pl.col("status") != "void"))
    sums = live.group_by("period", "affiliate_id", "currency").agg(
        net=pl.col("amount_minor").sum(),
        approved=pl.col("amount_minor").filter(pl.col("status") == "approved").sum(),
        pending=pl.col("amount_minor").filter(pl.col("status") == "pending").sum(),
    )

    joined = statements.join(sums, on=["period", "affiliate_id", "currency"], how="full", coalesce=True)

    assert joined.height == statements.height == sums.height == 8
    assert (joined["net"] == joined["net_minor"]).all()
    assert (joined["approved"] == joined["approved_minor"]).all()
    assert (joined["pending"] == joined["pending_minor"]).all()
    feb_omar = statements.filter((pl.col("period") == "2026-02") & (pl.col("affiliate_id") == "omar"))
    # omar's February line is still in its holding period (payable 2026-03-27, now 2026-03-20)
    assert feb_omar.select("approved_minor", "pending_minor", "payable_minor").rows() == [(0, 300, 0)]
