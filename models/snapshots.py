"""Backfilled object snapshots beside delivered events: a snapshot stands in for an event that never
arrived, never for one that did.

`attro stripe backfill` lands each object it reads as a synthetic event (`evt_backfill_...`, see
pipelines/sources/stripe_api/snapshots.py) of the type that would have reported it. Where a delivered
event (webhook or `attro stripe sync`) of that type reported the same object, the snapshot is dropped,
so a payment both backfilled and delivered is exactly what the delivered events make of it; where
none did, the rules read the snapshot like the event it stands for.
"""

from __future__ import annotations

import polars as pl

from core.contracts import BACKFILL_EVENT_PREFIX
from models.objects import Objects


def is_snapshot() -> pl.Expr:
    """True for a backfilled snapshot's event (by its id), false for a delivered one."""
    return pl.col("event_id").str.starts_with(BACKFILL_EVENT_PREFIX)


def delivered_first(objects: Objects) -> pl.LazyFrame:
    """Staged objects without the snapshots a delivered event of the same type and object replaces.

    Lazy: only the three key columns are read here, and each rule reads what it needs of the rest."""
    objects = objects.lazy()
    if not objects.select(is_snapshot().any()).collect().item():
        return objects  # nothing backfilled
    keys = objects.select("event_id", "obj_id", "event_type").collect()
    delivered = (
        keys.filter(~is_snapshot() & pl.col("obj_id").is_not_null()).select("obj_id", "event_type").unique()
    )
    replaced = keys.filter(is_snapshot()).join(delivered, on=["obj_id", "event_type"], how="semi")
    return objects.filter(~pl.col("event_id").is_in(replaced["event_id"].implode()))
