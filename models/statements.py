"""Affiliate statements: per period, affiliate and currency, what the ledger owes."""

from __future__ import annotations

import polars as pl

STATEMENT_SCHEMA = {
    "period": pl.String,
    "affiliate_id": pl.String,
    "currency": pl.String,
    "gross_minor": pl.Int64,
    "reversals_minor": pl.Int64,
    "reinstatements_minor": pl.Int64,
    "net_minor": pl.Int64,
    "approved_minor": pl.Int64,
    "pending_minor": pl.Int64,
    "commission_lines": pl.Int64,
    "reversal_lines": pl.Int64,
    "line_count": pl.Int64,
    "closed_at": pl.Datetime("us", "UTC"),
}


def affiliate_statements(lines: pl.DataFrame) -> pl.DataFrame:
    """Sum live ledger lines per (period, affiliate, currency); test-mode lines never reach statements."""
    kind = pl.col("kind")
    amount = pl.col("amount_minor")
    live = lines.filter(pl.col("livemode") & (pl.col("status") != "void"))
    return (
        live.group_by("period", "affiliate_id", "currency")
        .agg(
            gross_minor=amount.filter(kind == "commission").sum(),
            reversals_minor=amount.filter(kind == "reversal").sum(),
            reinstatements_minor=amount.filter(kind == "reinstatement").sum(),
            net_minor=amount.sum(),
            approved_minor=amount.filter(pl.col("status") == "approved").sum(),
            pending_minor=amount.filter(pl.col("status") == "pending").sum(),
            commission_lines=(kind == "commission").sum(),
            reversal_lines=(kind == "reversal").sum(),
            line_count=pl.len(),
        )
        .with_columns(closed_at=pl.lit(None))
        .select([pl.col(n).cast(t) for n, t in STATEMENT_SCHEMA.items()])
        .sort("period", "affiliate_id", "currency")
    )
