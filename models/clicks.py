"""Clicks: the mart of tracking-link clicks, one row per click id."""

from __future__ import annotations

import polars as pl

from core.click_ids import CLICK_ID_PATTERN
from core.contracts import CLICK, conform


def is_click_id_expr(column: pl.Expr) -> pl.Expr:
    """True where the value is in our click id format (anything else was not issued by us)."""
    return column.str.contains(CLICK_ID_PATTERN.pattern).fill_null(False)


def build_clicks(raw_clicks: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per click id, typed: its earliest by click time, the first landed among equal times.

    `raw_clicks` may be a lazy scan of the lake: then raw.clicks is read here, and the only copy held
    after it is this mart. Landing already keeps one row per click id, so the rows are kept in the
    order they came and only duplicates, if any, are sorted out: sorting all of them by time moved
    every column of every click (0.4-0.8 s of a run at 1.1M clicks; checking for duplicates, 0.04 s).
    The mart's columns the input lacks are added last."""
    raw = raw_clicks.lazy()
    present = {name: dtype for name, dtype in CLICK.items() if name in raw.collect_schema().names()}
    clicks = conform(raw, present).filter(is_click_id_expr(pl.col("click_id"))).collect()
    if clicks["click_id"].n_unique() < clicks.height:
        duplicated = pl.col("click_id").is_duplicated()
        first = (
            clicks.filter(duplicated)
            .sort("clicked_at", "click_id", maintain_order=True)
            .unique("click_id", keep="first", maintain_order=True)
        )
        clicks = pl.concat([clicks.filter(~duplicated), first])
    return conform(clicks, CLICK).with_columns(pl.col("is_bot").fill_null(False))
