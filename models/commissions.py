"""Commissions: which conversions earn, how much (offer terms), and the ledger lines they create.

Percent offers earn `percent` of the amount paid less tax, flat offers a fixed amount in their
currency; rounding is half up at the minor unit, once, per line. Recurring terms decide which
payments of an attributed chain earn: `first_payment`, `lifetime`, or `fixed_period` of N months
from the first attributed payment (a payment at or after first + N months earns nothing).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from models.attribution import CONVERSION_SCHEMA
from models.exprs import text
from models.money import RATE_SCALE, rate_half_up_expr

OFFER_SCHEMA = {
    "offer_id": pl.String,
    "name": pl.String,
    "type": pl.String,
    "percent": pl.Decimal(9, 4),
    "amount_minor": pl.Int64,
    "currency": pl.String,
    "recurring": pl.String,
    "recurring_months": pl.Int64,
    "attribution_window_days": pl.Int64,
    "holding_days": pl.Int64,
}

EVALUATED_SCHEMA = {
    **CONVERSION_SCHEMA,
    "commissionable": pl.Boolean,
    "not_commissionable_reason": pl.String,
    "base_amount_minor": pl.Int64,
    "commission_minor": pl.Int64,
    "rule": pl.String,
}

COMMISSION_LINE_SCHEMA = {
    "line_id": pl.String,
    "conversion_id": pl.String,
    "payment_id": pl.String,
    "affiliate_id": pl.String,
    "offer_id": pl.String,
    "kind": pl.String,
    "rule": pl.String,
    "base_amount_minor": pl.Int64,
    "amount_minor": pl.Int64,
    "currency": pl.String,
    "earned_at": pl.Datetime("us", "UTC"),
    "payable_on": pl.Date,
    "period": pl.String,
    "status": pl.String,
    "livemode": pl.Boolean,
}


def _percent_text(percent: pl.Expr) -> pl.Expr:
    text = percent.cast(pl.String)
    return (
        pl.when(text.str.contains(r"\."))
        .then(text.str.strip_chars_end("0").str.strip_chars_end("."))
        .otherwise(text)
    )


def evaluate_conversions(conversions: pl.DataFrame, offers: pl.DataFrame) -> pl.DataFrame:
    """Add commissionable, not_commissionable_reason, base, commission and the readable rule."""
    terms = offers.select(
        "offer_id",
        pl.col("type").alias("offer_type"),
        "percent",
        pl.col("amount_minor").alias("flat_amount_minor"),
        pl.col("currency").alias("flat_currency"),
        "recurring",
        "recurring_months",
    )
    frame = conversions.join(terms, on="offer_id", how="left")
    is_percent = pl.col("offer_type") == "percent"
    period_end = pl.col("attributed_from_at").dt.offset_by(
        text(pl.col("recurring_months").fill_null(0), "mo")
    )
    occurred, anchor = pl.col("occurred_at"), pl.col("attributed_from_at")
    month_diff = (occurred.dt.year() - anchor.dt.year()) * 12 + occurred.dt.month() - anchor.dt.month()
    # whole months since the first attributed payment (0 during the first month)
    months_in = month_diff - (anchor.dt.offset_by(text(month_diff, "mo")) > occurred).cast(pl.Int64)
    reason = (
        pl.when(pl.col("offer_type").is_null())
        .then(pl.lit("unknown_offer"))
        .when(~pl.col("livemode"))
        .then(pl.lit("test_mode"))
        .when((pl.col("recurring") == "first_payment") & (pl.col("payment_number") > 1))
        .then(pl.lit("outside_recurring_period"))
        .when((pl.col("recurring") == "fixed_period") & (pl.col("occurred_at") >= period_end))
        .then(pl.lit("outside_recurring_period"))
        .when(~is_percent & (pl.col("currency") != pl.col("flat_currency")))
        .then(pl.lit("currency_mismatch"))
    )
    base = (
        pl.when(is_percent)
        .then(pl.col("amount_minor") - pl.col("tax_minor"))
        .otherwise(pl.col("amount_minor"))
    )
    rate = (pl.col("percent") * (RATE_SCALE // 100)).cast(pl.Int64)
    commission = (
        pl.when(is_percent).then(rate_half_up_expr(base, rate)).otherwise(pl.col("flat_amount_minor"))
    )
    which_payment = (
        pl.when(pl.col("recurring") == "fixed_period")
        .then(
            text(
                "payment ",
                pl.col("payment_number"),
                ", month ",
                months_in + 1,
                " of ",
                pl.col("recurring_months"),
            )
        )
        .when(pl.col("recurring") == "lifetime")
        .then(text("payment ", pl.col("payment_number"), " (lifetime)"))
        .when(pl.col("payment_number") == 1)
        .then(pl.lit("first payment"))
        .otherwise(text("payment ", pl.col("payment_number"), " (first payment only)"))
    )
    tax_note = (
        pl.when(is_percent & (pl.col("tax_minor") > 0))
        .then(text(" (excl. ", pl.col("tax_minor"), " tax)"))
        .otherwise(pl.lit(""))
    )
    what = (
        pl.when(is_percent)
        .then(text(_percent_text(pl.col("percent")), "% of ", base, " ", pl.col("currency")))
        .otherwise(text("flat ", pl.col("flat_amount_minor"), " ", pl.col("flat_currency"), " per payment"))
    )
    evaluated = (
        frame.with_columns(not_commissionable_reason=reason)
        .with_columns(
            base_amount_minor=base,
            commission_minor=pl.when(pl.col("not_commissionable_reason").is_null())
            .then(commission)
            .otherwise(0),
            rule=pl.concat_str([what, tax_note, pl.lit(", "), which_payment]),
        )
        .with_columns(
            not_commissionable_reason=pl.when(
                pl.col("not_commissionable_reason").is_null() & (pl.col("commission_minor") <= 0)
            )
            .then(pl.lit("zero_commission"))
            .otherwise(pl.col("not_commissionable_reason")),
        )
        .with_columns(commissionable=pl.col("not_commissionable_reason").is_null())
    )
    return evaluated.select([pl.col(n).cast(t) for n, t in EVALUATED_SCHEMA.items()])


def commission_lines(evaluated: pl.DataFrame, offers: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """The ledger: one `commission` line per commissionable conversion, with its holding status.

    Reversal and reinstatement lines (refunds, disputes) are added by the adjustments rules.
    """
    holding = offers.select("offer_id", "holding_days")
    lines = (
        evaluated.filter(pl.col("commissionable"))
        .join(holding, on="offer_id", how="left")
        .with_columns(
            line_id=text(pl.col("conversion_id"), ":commission"),
            kind=pl.lit("commission"),
            amount_minor=pl.col("commission_minor"),
            earned_at=pl.col("occurred_at"),
            payable_on=pl.col("occurred_at").dt.date()
            + pl.duration(days=pl.col("holding_days").fill_null(30)),
        )
    )
    return (
        with_status(lines.with_columns(period=pl.col("earned_at").dt.strftime("%Y-%m")), now)
        .select([pl.col(n).cast(t) for n, t in COMMISSION_LINE_SCHEMA.items()])
        .sort("earned_at", "line_id")
    )


def with_status(lines: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """Holding period: a line is `pending` until its payable_on date, then `approved`."""
    today = now.date()
    return lines.with_columns(
        status=pl.when(pl.lit(today) >= pl.col("payable_on"))
        .then(pl.lit("approved"))
        .otherwise(pl.lit("pending"))
    )
