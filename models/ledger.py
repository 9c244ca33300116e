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
    unattributed: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every line as of `now`: recomputed from conversions and adjustments, held or voided by the
    review of their risk flags, then closed months kept as frozen and the differences carried into
    the first open month (a sale that no longer earns says why: its conversion's reason, or why the
    payment is `unattributed` now)."""
    commissions = commission_lines(evaluated, now)
    reversals = adjustment_lines(adjustments, commissions, payments, now)
    computed = void_fully_reversed(pl.concat([commissions, reversals]))
    if flags is not None:
        computed = apply_reviews(computed, flags, evaluated)
    return apply_closed_periods(
        computed, frozen, closed, now, lambda payment_ids: _why_not(evaluated, unattributed, payment_ids)
    )


def _why_not(
    evaluated: pl.DataFrame, unattributed: pl.DataFrame | None, payment_ids: list[str]
) -> dict[str, str]:
    """Payment id → why it earns nothing now: its conversion's reason, or why it is unattributed."""
    asked = pl.col("payment_id").is_in(payment_ids)
    why = dict(
        evaluated.filter(asked & pl.col("not_commissionable_reason").is_not_null())
        .select("payment_id", "not_commissionable_reason")
        .rows()
    )
    if unattributed is not None:
        said = pl.when(pl.col("detail").is_not_null()).then(
            pl.concat_str(pl.col("reason"), pl.lit(" ("), pl.col("detail"), pl.lit(")"))
        )
        why.update(unattributed.filter(asked).select("payment_id", said.otherwise(pl.col("reason"))).rows())
    return why
