"""The funnel per day: clicks → leads → new customers → payments, revenue and commission.

One row per (UTC day, affiliate, link, offer, currency). Clicks (not bots) and usable leads have no
currency: they are on the day's row whose currency is null; new customers (initial conversions),
payments and revenue are per currency, on the conversion's day; commission is the day's commission
lines that are not void (held ones included: earned, waiting for review; the correction that pays a
held line approved after its month closed is not counted again), on the day earned. Test mode counts
nowhere. Sales through a promotion code have no link (`link_code` null).
"""

from __future__ import annotations

import polars as pl

from core.contracts import FUNNEL_DAY, conform
from models.closed_periods import base_line_id

KEY = ["day", "affiliate_id", "link_code", "offer_id", "currency"]


def funnel_daily(
    clicks: pl.DataFrame, leads: pl.DataFrame, conversions: pl.DataFrame, lines: pl.DataFrame
) -> pl.DataFrame:
    """marts.funnel_daily."""
    no_currency = pl.lit(None, pl.String).alias("currency")
    visits = (
        clicks.filter(~pl.col("is_bot"))
        .group_by(pl.col("clicked_at").dt.date().alias("day"), "affiliate_id", "link_code", "offer_id")
        .agg(clicks=pl.len())
        .with_columns(no_currency)
    )
    signups = (
        leads.filter(pl.col("reason").is_null() & pl.col("livemode"))
        .group_by(pl.col("created_at").dt.date().alias("day"), "affiliate_id", "link_code", "offer_id")
        .agg(leads=pl.len())
        .with_columns(no_currency)
    )
    live = conversions.filter(pl.col("livemode"))
    sales = live.group_by(
        pl.col("occurred_at").dt.date().alias("day"), "affiliate_id", "link_code", "offer_id", "currency"
    ).agg(
        new_customers=(pl.col("conversion_type") == "initial").sum().cast(pl.Int64),
        payments=pl.len(),
        revenue_minor=pl.col("amount_minor").sum(),
    )
    # A correction of a line frozen `held` (approved after its month closed) carries money this funnel
    # already counted on the held line: counted once, on the held line's day.
    base_id = base_line_id(pl.col("line_id"))
    held = lines.filter(pl.col("status") == "held")["line_id"].implode()
    counted = lines.filter(~((base_id != pl.col("line_id")) & base_id.is_in(held)))
    earned = (
        counted.filter(pl.col("livemode") & (pl.col("kind") == "commission") & (pl.col("status") != "void"))
        .join(live.select("conversion_id", "link_code"), on="conversion_id", how="left")
        .group_by(
            pl.col("earned_at").dt.date().alias("day"), "affiliate_id", "link_code", "offer_id", "currency"
        )
        .agg(commission_minor=pl.col("amount_minor").sum())
    )
    top = visits.join(signups, on=KEY, how="full", coalesce=True, nulls_equal=True)
    bottom = sales.join(earned, on=KEY, how="full", coalesce=True, nulls_equal=True)
    counts = ["clicks", "leads", "new_customers", "payments", "revenue_minor", "commission_minor"]
    rows = conform(pl.concat([top, bottom], how="diagonal_relaxed"), FUNNEL_DAY)
    return rows.with_columns([pl.col(c).fill_null(0) for c in counts]).sort(KEY, nulls_last=True)
