"""Clicks: the mart of tracking-link clicks, one row per click id."""

from __future__ import annotations

import polars as pl

from core.click_ids import CLICK_ID_PATTERN
from core.contracts import CLICK, LANDED_AGAIN_CLICK, RAW_CLICK, conform, empty


def is_click_id_expr(column: pl.Expr) -> pl.Expr:
    """True where the value is in our click id format (anything else was not issued by us)."""
    return column.str.contains(CLICK_ID_PATTERN.pattern).fill_null(False)


def build_clicks(raw_clicks: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """marts.clicks: one row per click id (see clicks_and_landed_again)."""
    return clicks_and_landed_again(raw_clicks)[0]


def clicks_and_landed_again(raw_clicks: pl.DataFrame | pl.LazyFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(marts.clicks, raw.clicks_landed_again): one row per click id, typed — its copy landed first
    (earliest `received_at`, then earliest click time) — and the other copies of an id landed again
    (two receiver processes, a retried import), which no rule reads.

    `raw_clicks` may be a lazy scan of the lake: then raw.clicks is read here, and the only copy held
    after it is this mart. Landing already keeps one row per click id nearly always, so the rows are
    kept in the order they came and only duplicates, if any, are sorted out: sorting all of them by
    time moved every column of every click (0.4-0.8 s of a run at 1.1M clicks; checking for
    duplicates, 0.04 s). The mart's columns the input lacks are added last."""
    raw = raw_clicks.lazy()
    names = raw.collect_schema().names()
    present = {name: dtype for name, dtype in CLICK.items() if name in names}
    if "received_at" in names:
        present["received_at"] = RAW_CLICK["received_at"]
    clicks = conform(raw, present).filter(is_click_id_expr(pl.col("click_id"))).collect()
    landed_again = empty(LANDED_AGAIN_CLICK)
    if clicks["click_id"].n_unique() < clicks.height:
        duplicated = pl.col("click_id").is_duplicated()
        order = [c for c in ("received_at", "clicked_at") if c in clicks.columns]
        copies = clicks.filter(duplicated).sort(order, nulls_last=True, maintain_order=True)
        kept = pl.int_range(pl.len()).over("click_id") == 0  # each id's first copy in that order
        first = copies.filter(kept)
        # the others, but a copy alike the kept one in every column the view matches on (the view
        # would leave both out, and the id with them)
        shown = [c for c in LANDED_AGAIN_CLICK if c in first.columns]
        landed_again = conform(
            copies.filter(~kept).join(first, on=shown, how="anti", nulls_equal=True), LANDED_AGAIN_CLICK
        )
        clicks = pl.concat([clicks.filter(~duplicated), first])
    mart = conform(clicks, CLICK).with_columns(pl.col("is_bot").fill_null(False))
    return mart, landed_again
