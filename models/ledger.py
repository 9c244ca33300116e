"""The commission ledger: commission lines, their reversals and reinstatements, void, closed months."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from models.closed_periods import apply_closed_periods
from models.commissions import commission_lines
from models.money_back import adjustment_lines, void_fully_reversed
from models.risk import apply_reviews


def build_ledger(
    evaluated: pl.DataFrame,
    adjustments: pl.DataFrame,
    payments: pl.DataFrame,
    frozen: pl.DataFrame,
    closed: set[str],
    now: datetime,
    flags: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every line as of `now`: recomputed from conversions and adjustments, held or voided by the
    review of their risk flags, then closed months kept as frozen and the differences carried into
    the first open month."""
    commissions = commission_lines(evaluated, now)
    reversals = adjustment_lines(adjustments, commissions, payments, now)
    computed = void_fully_reversed(pl.concat([commissions, reversals]))
    if flags is not None:
        computed = apply_reviews(computed, flags, evaluated)
    return apply_closed_periods(computed, frozen, closed, now)
