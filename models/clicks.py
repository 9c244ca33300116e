"""Clicks: the mart of tracking-link clicks, one row per click id."""

from __future__ import annotations

import polars as pl

from core.click_ids import CLICK_ID_PATTERN

CLICK_SCHEMA = {
    "click_id": pl.String,
    "clicked_at": pl.Datetime("us", "UTC"),
    "link_code": pl.String,
    "affiliate_id": pl.String,
    "offer_id": pl.String,
    "ip_hash": pl.String,
    "user_agent": pl.String,
    "referer": pl.String,
    "landing_url": pl.String,
    "utm_source": pl.String,
    "utm_medium": pl.String,
    "utm_campaign": pl.String,
    "utm_term": pl.String,
    "utm_content": pl.String,
    "is_bot": pl.Boolean,
    "source": pl.String,
}


def is_click_id_expr(column: pl.Expr) -> pl.Expr:
    """True where the value is in our click id format (anything else was not issued by us)."""
    return column.str.contains(CLICK_ID_PATTERN.pattern).fill_null(False)


def build_clicks(raw_clicks: pl.DataFrame) -> pl.DataFrame:
    """One row per click id (the first landing wins), typed, ordered by time."""
    frame = raw_clicks.select(
        [
            (pl.col(n) if n in raw_clicks.columns else pl.lit(None)).cast(t).alias(n)
            for n, t in CLICK_SCHEMA.items()
        ]
    )
    return (
        frame.filter(is_click_id_expr(pl.col("click_id")))
        .sort("clicked_at", "click_id")
        .unique("click_id", keep="first", maintain_order=True)
        .with_columns(pl.col("is_bot").fill_null(False))
    )
