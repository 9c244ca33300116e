"""Affiliate statements: per period, affiliate and currency, what the ledger owes.

A statement's `net_minor` is the period's (non-void, live) lines. Every affiliate and currency with
a live line in the period has one, also when all its lines are void (then every total is 0): the void
lines are in no total, but the export sums them beside the row they belong to.

Balances carry: a negative closing balance (more taken back than earned) is carried into the next
statement of that affiliate and currency as `opening_balance_minor`; a positive one is paid, not
carried. `payable_minor` is what can be paid now: opening balance plus approved lines, never negative.
Closed periods keep the statement frozen at closing (a month closed with --force carries only what its
approved lines leave below zero and its pending reversals: its pending sales are paid apart once
approved, `forced_carry`). When an earlier month still open carries another balance than it did when
a later one was frozen, the difference passes through the frozen statement to the next open month —
in a statement of its own when the affiliate has no later one — so closing months out of order loses
nothing.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from core.contracts import NOT_IN_STATEMENT, STATEMENT
from models.closed_periods import first_open_after


def period_totals(lines: pl.DataFrame) -> pl.DataFrame:
    """Sum live, non-void ledger lines per (period, affiliate, currency) that has any live line; lines
    held for review are only in `held_minor` (never payable, in no other total until a person
    approves them), void lines in none."""
    kind = pl.col("kind")
    amount = pl.col("amount_minor")
    live = lines.filter(pl.col("livemode"))
    counted = ~pl.col("status").is_in(NOT_IN_STATEMENT)
    return live.group_by("period", "affiliate_id", "currency").agg(
        gross_minor=amount.filter(counted & (kind == "commission")).sum(),
        reversals_minor=amount.filter(counted & (kind == "reversal")).sum(),
        reinstatements_minor=amount.filter(counted & (kind == "reinstatement")).sum(),
        net_minor=amount.filter(counted).sum(),
        approved_minor=amount.filter(pl.col("status") == "approved").sum(),
        pending_minor=amount.filter(pl.col("status") == "pending").sum(),
        held_minor=amount.filter(pl.col("status") == "held").sum(),
        commission_lines=(counted & (kind == "commission")).sum(),
        reversal_lines=(counted & (kind == "reversal")).sum(),
        reinstatement_lines=(counted & (kind == "reinstatement")).sum(),
        line_count=(pl.col("status") != "void").sum(),
    )


def forced_carry() -> pl.Expr:
    """`carried_forward_minor` of a month closed with --force (its pending lines frozen as pending):
    what its approved lines leave below zero, and its pending reversals; its pending sales are paid
    apart once approved (pipelines/payouts.py `pending_due`), never set against a debt. Equal to
    `min(0, closing)` for a month with nothing pending."""
    approved_left = pl.min_horizontal(pl.lit(0), pl.col("opening_balance_minor") + pl.col("approved_minor"))
    return (approved_left + pl.min_horizontal(pl.lit(0), pl.col("pending_minor"))).alias(
        "carried_forward_minor"
    )


def _balance_only(period: str, key: tuple[str, str], owed: int) -> dict:
    """A statement with no lines: a balance an earlier month passed on, owed in `period` (a debt
    negative: carried forward, nothing payable)."""
    zeros = {name: 0 for name, dtype in STATEMENT.items() if dtype == pl.Int64}
    return zeros | {
        "period": period,
        "affiliate_id": key[0],
        "currency": key[1],
        "opening_balance_minor": owed,
        "closing_balance_minor": owed,
        "payable_minor": max(0, owed),
        "carried_forward_minor": min(0, owed),
        "closed_at": None,
    }


def affiliate_statements(
    lines: pl.DataFrame,
    frozen: pl.DataFrame | None = None,
    closed: dict[str, datetime] | None = None,
) -> pl.DataFrame:
    """Statements for every period with lines: frozen ones as they were closed, the rest computed,
    balances carried in period order."""
    closed = closed or {}
    frozen = frozen if frozen is not None else pl.DataFrame(schema=STATEMENT)
    computed = period_totals(lines.filter(~pl.col("period").is_in(sorted(closed))))
    rows = sorted(
        [("frozen", r) for r in frozen.iter_rows(named=True)]
        + [("computed", r) for r in computed.iter_rows(named=True)],
        key=lambda item: (item[1]["affiliate_id"], item[1]["currency"], item[1]["period"]),
    )
    out: list[dict] = []
    carry: dict[tuple[str, str], int] = {}
    last: dict[tuple[str, str], tuple[str, str]] = {}  # key -> (origin, period) of its latest statement
    for origin, row in rows:
        key = (row["affiliate_id"], row["currency"])
        last[key] = (origin, row["period"])
        if origin == "frozen":
            out.append(row)
            # What the months before it carry now, beside what they carried when it was frozen: an
            # open earlier month's later change passes through to the next open month.
            passed = carry.get(key, 0) - (row["opening_balance_minor"] or 0)
            carry[key] = (row["carried_forward_minor"] or 0) + passed
            continue
        opening = carry.get(key, 0)
        closing = opening + row["net_minor"]
        carry[key] = min(0, closing)
        out.append(
            {
                **row,
                "opening_balance_minor": opening,
                "closing_balance_minor": closing,
                # what can be paid now: approved lines (pending ones become payable once approved)
                "payable_minor": max(0, opening + row["approved_minor"]),
                "carried_forward_minor": min(0, closing),
                "closed_at": closed.get(row["period"]),
            }
        )
    for key, (origin, period) in last.items():
        owed = carry.get(key, 0)
        # passed through the affiliate's last statement: owed now, or a debt carried on (shown, as
        # the admin's carried forward reads the latest statement: review)
        if origin == "frozen" and owed != 0:
            out.append(_balance_only(first_open_after(period, set(closed)), key, owed))
    frame = pl.DataFrame(out, schema=STATEMENT) if out else pl.DataFrame(schema=STATEMENT)
    return frame.sort("period", "affiliate_id", "currency")
