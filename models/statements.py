"""Affiliate statements: per period, affiliate and currency, what the ledger owes.

A statement's `net_minor` is the period's (non-void, live) lines. Every affiliate and currency with
a live line in the period has one, also when all its lines are void (then every total is 0): the void
lines are in no total, but the export sums them beside the row they belong to.

Balances carry. `payable_minor` is what can be paid now: opening balance plus approved lines, never
negative. What that leaves below zero (more taken back than earned), and pending lines that take money
back, are carried into the next statement of that affiliate and currency as `opening_balance_minor`;
pending lines that add money are not: they are paid once approved (a month closed with --force lists
them apart). Closed periods keep the statement frozen at closing; when an earlier month still open
carries another balance than it did then, the difference passes through the frozen statement to the
next open one, so closing months out of order loses nothing.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from core.contracts import NOT_IN_STATEMENT, STATEMENT


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
    for origin, row in rows:
        key = (row["affiliate_id"], row["currency"])
        if origin == "frozen":
            out.append(row)
            # What the months before it carry now, beside what they carried when it was frozen: an
            # open earlier month's later change passes through to the next open month.
            passed = carry.get(key, 0) - (row["opening_balance_minor"] or 0)
            carry[key] = (row["carried_forward_minor"] or 0) + passed
            continue
        opening = carry.get(key, 0)
        owed_now = opening + row["approved_minor"]
        # Pending lines that add money are paid once approved, never set against a debt first; those
        # that take money back are a debt already.
        carried = min(0, owed_now) + min(0, row["pending_minor"])
        carry[key] = carried
        out.append(
            {
                **row,
                "opening_balance_minor": opening,
                "closing_balance_minor": opening + row["net_minor"],
                # what can be paid now: approved lines (pending ones become payable once approved)
                "payable_minor": max(0, owed_now),
                "carried_forward_minor": carried,
                "closed_at": closed.get(row["period"]),
            }
        )
    frame = pl.DataFrame(out, schema=STATEMENT) if out else pl.DataFrame(schema=STATEMENT)
    return frame.sort("period", "affiliate_id", "currency")
