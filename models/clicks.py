"""Clicks: the mart of tracking-link clicks, one row per click id."""

from __future__ import annotations

import polars as pl

from core.click_ids import CLICK_ID_PATTERN
from core.contracts import CLICK, conform


def is_click_id_expr(column: pl.Expr) -> pl.Expr:
    """True where the value is in our click id format (anything else was not issued by us)."""
    return column.str.contains(CLICK_ID_PATTERN.pattern).fill_null(False)


def build_clicks(raw_clicks: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per click id (the first landing wins), typed, ordered by time.

    `raw_clicks` may be a lazy scan of the lake: then raw.clicks is read here, and the only copy held
    after it is this mart (sorted and deduplicated eagerly: Polars' lazy engine took twice the time and
    memory for it). The mart's columns the input lacks are added last, not carried through the sort."""
    raw = raw_clicks.lazy()
    present = {name: dtype for name, dtype in CLICK.items() if name in raw.collect_schema().names()}
    first = (  # one chain: each step's input is freed once the next has it
        conform(raw, present)
        .filter(is_click_id_expr(pl.col("click_id")))
        .collect()
        .sort("clicked_at", "click_id")
        .unique("click_id", keep="first", maintain_order=True)
    )
    return conform(first, CLICK).with_columns(pl.col("is_bot").fill_null(False))
