"""Small Polars expression helpers shared by the models."""

from __future__ import annotations

import polars as pl


def text(*parts: str | pl.Expr) -> pl.Expr:
    """Concatenate literal strings and expressions (null if any expression is null).

    Used instead of pl.format, which panics on some inputs in polars 2.1.
    """
    return pl.concat_str([pl.lit(p) if isinstance(p, str) else p.cast(pl.String) for p in parts])


def to_utc(frame: pl.DataFrame) -> pl.DataFrame:
    """Time-zone-aware columns in UTC (DuckDB hands TIMESTAMPTZ back in its session zone)."""
    return frame.with_columns(
        [
            pl.col(name).dt.convert_time_zone("UTC")
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
        ]
    )
