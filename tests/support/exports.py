"""Commission exports read back as their users' tools read them: the CSV's sections, a workbook's
sheets (openpyxl, as a spreadsheet program sees them)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell.cell import Cell


def read_csv_export(path: Path) -> tuple[list[str], list[dict[str, str]], list[dict[str, str]]]:
    """(header lines without '# ', statement rows, line rows) of a CSV export."""
    text = path.read_text(encoding="utf-8")
    header_part, rest = text.split("# section: statement\n")
    statement_part, lines_part = rest.split("\n# section: lines\n")
    header = [line.removeprefix("# ") for line in header_part.splitlines()]
    return (
        header,
        list(csv.DictReader(io.StringIO(statement_part))),
        list(csv.DictReader(io.StringIO(lines_part))),
    )


def open_workbook(path: Path) -> Any:
    return openpyxl.load_workbook(path)


def sheet_rows(book: Any, name: str) -> list[dict[str, Cell]]:
    """A sheet's rows under its header row: column name → cell (value, number_format, font)."""
    rows = list(book[name].iter_rows())
    names = [cell.value for cell in rows[0]]
    return [dict(zip(names, row, strict=True)) for row in rows[1:]]
