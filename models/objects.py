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
