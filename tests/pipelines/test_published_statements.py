"""Published affiliate statements: closed_at of a closed period, sums that match the published lines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl


def test_published_statements_of_a_closed_period_carry_closed_at(closed_jan_site: Any) -> None:
    statements = closed_jan_site.statements()

    closed = statements.filter(pl.col("period") == "2026-01")
    assert closed.height == 5
    assert set(closed["closed_at"]) == {datetime(2026, 3, 20, 12, 0, tzinfo=UTC)}
    assert statements.filter(pl.col("period") != "2026-01")["closed_at"].is_null().all()


def test_published_statements_sum_the_published_lines(base_site: Any) -> None:
    statements = base_site.statements()
    live = base_site.lines().filter(pl.col("livemode"))  # a row for every month with a line, void or not
    sums = live.group_by("period", "affiliate_id", "currency").agg(
        net=pl.col("amount_minor").filter(pl.col("status") != "void").sum(),
        approved=pl.col("amount_minor").filter(pl.col("status") == "approved").sum(),
        pending=pl.col("amount_minor").filter(pl.col("status") == "pending").sum(),
    )

    joined = statements.join(sums, on=["period", "affiliate_id", "currency"], how="full", coalesce=True)

    assert joined.height == statements.height == sums.height == 9
    assert (joined["net"] == joined["net_minor"]).all()
    assert (joined["approved"] == joined["approved_minor"]).all()
    assert (joined["pending"] == joined["pending_minor"]).all()
    feb_omar = statements.filter((pl.col("period") == "2026-02") & (pl.col("affiliate_id") == "omar"))
    # omar's February line is still in its holding period (payable 2026-03-27, now 2026-03-20)
    assert feb_omar.select("approved_minor", "pending_minor", "payable_minor").rows() == [(0, 300, 0)]
