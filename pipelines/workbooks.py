"""Finance workbooks (XLSX) an accountant opens as they are: money as numbers in each currency's decimals,
minor units as plain integers, dates and times (UTC) as dates, columns wide enough to read, the header
row frozen."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from models.money import exponent

MONEY_FORMATS = {0: "#,##0", 2: "#,##0.00", 3: "#,##0.000"}  # by the currency's exponent
MINOR_FORMAT = "0"  # a count of cents is not an amount: no thousands separator, no decimals
COUNT_FORMAT = "0"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"  # UTC: a spreadsheet has no time zones
MAX_WIDTH = 60  # a rule sentence can be long; wider columns push the amounts off the screen
MUTED = {"font_color": "#808080", "italic": True}


@dataclass(frozen=True)
class Sheet:
    """One table on its own sheet. `money` maps a display column to the minor-units column its number
    comes from (`amount` ← `amount_minor`), shown in the row's `currency`'s decimals; rows `muted`
    says so of are greyed (void lines)."""

    name: str
    frame: pl.DataFrame
    money: dict[str, str] = field(default_factory=dict)
    muted: Callable[[dict[str, Any]], bool] | None = None


class _Formats:
    """xlsxwriter needs one Format object per combination; made once, in first-use order (the
    workbook's bytes depend on that order, and a closed month's file must not change)."""

    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self._book = book
        self._made: dict[tuple[str | None, bool, bool], Format] = {}

    def get(self, num_format: str | None = None, muted: bool = False, bold: bool = False) -> Format:
        key = (num_format, muted, bold)
        if key not in self._made:
            props: dict[str, Any] = {"bold": bold} | (MUTED if muted else {})
            if num_format:
                props["num_format"] = num_format
            self._made[key] = self._book.add_format(props)
        return self._made[key]


def _money_value(minor: int, currency: str) -> tuple[float, int, str]:
    """(number to store, exponent, text as shown) for an amount in minor units."""
    exp = exponent(currency)
    value = Decimal(minor).scaleb(-exp)
    return float(value), exp, f"{value:,.{exp}f}"


def _write_cell(
    ws: Worksheet, row: int, col: int, value: Any, fmt: _Formats, muted: bool, num_format: str | None
) -> str:
    """Write one cell by its Python type; returns the text a reader sees (for the column's width)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt.get(None, muted))
        return "FALSE" if not value else "TRUE"
    if isinstance(value, int):
        ws.write_number(row, col, value, fmt.get(num_format or COUNT_FORMAT, muted))
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        ws.write_datetime(row, col, value, fmt.get(DATETIME_FORMAT, muted))
        return DATETIME_FORMAT
    if isinstance(value, date):
        ws.write_datetime(row, col, value, fmt.get(DATE_FORMAT, muted))
        return DATE_FORMAT
    text = str(value)
    ws.write_string(row, col, text, fmt.get(None, muted))
    return text


def _write_sheet(book: xlsxwriter.Workbook, fmt: _Formats, sheet: Sheet) -> None:
    ws = book.add_worksheet(sheet.name)
    frame = sheet.frame
    widths = [len(name) for name in frame.columns]
    for col, name in enumerate(frame.columns):
        ws.write_string(0, col, name, fmt.get(bold=True))
    money_cols = {frame.columns.index(name): minor for name, minor in sheet.money.items()}
    for row, record in enumerate(frame.iter_rows(named=True), start=1):
        muted = sheet.muted is not None and sheet.muted(record)
        for col, name in enumerate(frame.columns):
            if col in money_cols:
                minor = record[money_cols[col]]
                if minor is None:
                    continue
                value, exp, shown = _money_value(minor, record["currency"])
                ws.write_number(row, col, value, fmt.get(MONEY_FORMATS[exp], muted))
            else:
                num_format = MINOR_FORMAT if name.endswith("_minor") else None
                shown = _write_cell(ws, row, col, record[name], fmt, muted, num_format)
            widths[col] = max(widths[col], len(shown))
    for col, width in enumerate(widths):
        ws.set_column(col, col, min(width + 2, MAX_WIDTH))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, frame.height, max(frame.width - 1, 0))


def write_workbook(
    path: Path, created: datetime, title: str, summary: Sequence[str], sheets: Sequence[Sheet]
) -> None:
    """A `summary` sheet (one line of text per row), then each table on its own sheet. `created` is
    stored as the workbook's creation time: the same inputs give the same bytes."""
    with xlsxwriter.Workbook(path) as book:
        book.set_properties({"created": created.replace(tzinfo=None), "title": title})
        fmt = _Formats(book)
        ws = book.add_worksheet("summary")
        for row, line in enumerate(summary):
            ws.write_string(row, 0, line)
        ws.set_column(0, 0, min(max((len(line) for line in summary), default=10) + 2, 120))
        for sheet in sheets:
            _write_sheet(book, fmt, sheet)
