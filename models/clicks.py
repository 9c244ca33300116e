"""Clicks: the mart of tracking-link clicks, one row per click id."""

from __future__ import annotations

import polars as pl

from core.click_ids import CLICK_ID_PATTERN
from core.contracts import CLICK, conform


def is_click_id_expr(column: pl.Expr) -> pl.Expr:
    """True where the value is in our click id format (anything else was not issued by us)."""
    return column.str.contains(CLICK_ID_PATTERN.pattern).fill_null(False)


def build_clicks(raw_clicks: pl.DataFrame) -> pl.DataFrame:
    """One row per click id (the first landing wins), typed, ordered by time."""
    frame = conform(raw_clicks, CLICK)
    return (
        frame.filter(is_click_id_expr(pl.col("click_id")))
        .sort("clicked_at", "click_id")
        .unique("click_id", keep="first", maintain_order=True)
        .with_columns(pl.col("is_bot").fill_null(False))
    )
