"""Holding period: a commission line is `pending` until its payable_on date, then `approved`.

payable_on is the earned date plus the offer's `holding_days` (default 30), locked with the terms.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

DEFAULT_HOLDING_DAYS = 30


def payable_on(earned_at: pl.Expr, holding_days: pl.Expr) -> pl.Expr:
    """The date a line earned at `earned_at` becomes payable."""
    return earned_at.dt.date() + pl.duration(days=holding_days.fill_null(DEFAULT_HOLDING_DAYS))


def with_status(lines: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """`status` as of `now`: `pending` before payable_on, `approved` from that day on."""
    today = now.date()
    return lines.with_columns(
        status=pl.when(pl.lit(today) >= pl.col("payable_on"))
        .then(pl.lit("approved"))
        .otherwise(pl.lit("pending"))
    )
