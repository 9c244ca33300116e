"""CSV cells a spreadsheet opens as text. Excel and LibreOffice run a cell that starts with `=`, `+`,
`-`, `@`, a tab or a carriage return as a formula (`=HYPERLINK(...)` can send other cells to a web
site); such a text cell gets a leading apostrophe, OWASP's advice against CSV injection. A number
(`-12.50`) is left as it is."""

from __future__ import annotations

import re

import polars as pl

from core.program import FORMULA_STARTS

_FORMULA_START = "^[" + re.escape("".join(FORMULA_STARTS)) + "]"
_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?$"


def safe_cell(text: str) -> str:
    """`text` as a spreadsheet shows it, never run: `'=1+2` for `=1+2`; `-12.50` stays a number."""
    if re.match(_FORMULA_START, text) and not re.match(_NUMBER, text):
        return f"'{text}"
    return text


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every text column's cells made safe as `safe_cell` does (for `write_csv`)."""
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_FORMULA_START) & ~pl.col(name).str.contains(_NUMBER))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in texts
    )
