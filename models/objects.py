"""The staged Stripe objects the rules read (`staging.stripe_objects`): a frame, or a lazy scan of the
lake's files (pipelines/steps.py:mart_inputs).

The table has a column for every field any kind of object carries, and any one kind fills few of them,
so the rules never hold all of it at once: each rule reads the rows of the kinds it needs, and the lazy
scan then reads only those rows' columns it uses.
"""

from __future__ import annotations

import polars as pl

Objects = pl.DataFrame | pl.LazyFrame


def objects_where(objects: Objects, predicate: pl.Expr) -> pl.DataFrame:
    """The staged objects `predicate` keeps, every column: for the kinds a rule reads, a small frame."""
    return objects.lazy().filter(predicate).collect()


def one_copy_per_event(objects: Objects) -> pl.LazyFrame:
    """Staged objects with one row per event id: the copy landed first (earliest `received_at`). Raw
    holds a second copy of an event only when a run loaded a later-landed copy before the earlier one
    was written (another receiver process, a retry), so a run and a rebuild keep the same copy;
    nearly never, and only the two key columns are read to know."""
    objects = objects.lazy()
    keys = objects.select("event_id", "received_at").collect()
    if keys["event_id"].n_unique() == keys.height:
        return objects
    copies = keys.filter(pl.col("event_id").is_duplicated())
    first = copies.sort("received_at", "event_id", nulls_last=True).unique("event_id", keep="first")
    again = pl.col("event_id").is_in(copies["event_id"].unique().implode())
    kept = (
        objects.filter(again)
        .join(first.lazy(), on=["event_id", "received_at"], how="semi", nulls_equal=True)
        .unique("event_id", keep="any")  # copies alike in both columns: either
    )
    return pl.concat([objects.filter(~again), kept])
