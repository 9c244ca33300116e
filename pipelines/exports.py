"""Finance exports: a period's commission lines and per-affiliate statement, with a header.

A closed period is exported from its frozen snapshot (state/closed_periods/), so exporting it twice
gives byte-identical files; an open period is exported from the published warehouse and says when it
was generated, since it can still change.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from core.contracts import NOT_IN_STATEMENT
from core.program import ProgramError
from core.settings import Settings
from core.state.closed_periods import PeriodError, check_period, closed_at, frozen_period
from models.money import exponent_expr, format_minor, format_minor_expr, minor_to_decimal_expr
from models.risk import REJECTED_IN_REVIEW
from pipelines.affiliates import period_affiliates
from pipelines.lib.csv_text import safe_frame
from pipelines.lib.files import writable_dir, write_all_or_none
from pipelines.lib.warehouse import read_published_period
from pipelines.workbooks import Sheet, write_workbook

FORMATS = ("csv", "parquet", "xlsx")
_MONEY = (
    "opening_balance_minor",
    "gross_minor",
    "reversals_minor",
    "reinstatements_minor",
    "net_minor",
    "closing_balance_minor",
    "payable_minor",
    "carried_forward_minor",
    "approved_minor",
    "pending_minor",
    "held_minor",
    "void_minor",
)
# A display amount (in the currency's decimals) and the minor-units column it shows.
_STATEMENT_MONEY = {c.removesuffix("_minor"): c for c in _MONEY}
_LINE_MONEY = {"amount": "amount_minor"}
VOID_NOTE = "void: taken back in full before it became payable; counts in no statement"
REJECTED_NOTE = "void: rejected in review (its rule says why); counts in no statement"
HELD_NOTE = "held for review (attro review): counts only in held, in no other total until approved"
READING = [
    "How to read this workbook:",
    "statement: one row per affiliate and currency. Amounts are numbers in the currency's decimals;"
    " *_minor columns are the same amounts in minor units (cents; yen have none).",
    "lines: the period's commission lines. A void line (in_statement FALSE, in grey) was taken back in"
    " full before it became payable, or rejected in review (its note says which), and counts in no"
    " statement. A held line (in_statement FALSE) waits"
    " for a person's review (attro review), is grey too, and counts only in the statement's held.",
    "Per affiliate and currency, the lines with in_statement TRUE sum to the statement's net, the"
    " void lines to its void (void_lines of them) and the held lines to its held (held_lines).",
    "Times (earned_at) are UTC; payable_on is a date.",
]


class ExportError(RuntimeError):
    """The export could not be written; nothing partial is left behind."""


@dataclass(frozen=True)
class Export:
    period: str
    files: list[Path]
    lines: pl.DataFrame
    statement: pl.DataFrame
    header: list[str]


def _void_totals(lines: pl.DataFrame) -> pl.DataFrame:
    """Per affiliate and currency, the void lines the statement leaves out: their sum and count."""
    void = lines.filter(pl.col("status") == "void")
    return void.group_by("affiliate_id", "currency").agg(
        void_minor=pl.col("amount_minor").sum(), void_lines=pl.len().cast(pl.Int64)
    )


def _held_lines(lines: pl.DataFrame) -> pl.DataFrame:
    """Per affiliate and currency, how many lines wait for review (their sum is the statement's held)."""
    held = lines.filter(pl.col("status") == "held")
    return held.group_by("affiliate_id", "currency").agg(held_lines=pl.len().cast(pl.Int64))


def _named(frame: pl.DataFrame, affiliates: pl.DataFrame) -> pl.DataFrame:
    names = affiliates.select("affiliate_id", affiliate_name="name", affiliate_email="email")
    return frame.join(names, on="affiliate_id", how="left")


def _note() -> pl.Expr:
    """Why a line stands out, in words: void, or carried in from a closed month."""
    return (
        pl.when((pl.col("status") == "void") & pl.col("rule").str.contains(REJECTED_IN_REVIEW, literal=True))
        .then(pl.lit(REJECTED_NOTE))
        .when(pl.col("status") == "void")
        .then(pl.lit(VOID_NOTE))
        .when(pl.col("status") == "held")
        .then(pl.lit(HELD_NOTE))
        .when(pl.col("carried_from_period").is_not_null())
        .then(pl.lit("carried from ") + pl.col("carried_from_period") + " (a later change to a closed month)")
    )


def _exported_lines(lines: pl.DataFrame, affiliates: pl.DataFrame) -> pl.DataFrame:
    return (
        _named(lines, affiliates)
        .sort("affiliate_id", "earned_at", "line_id")
        .select(
            "period",
            "affiliate_id",
            "affiliate_name",
            "affiliate_email",
            "line_id",
            "kind",
            "status",
            in_statement=~pl.col("status").is_in(NOT_IN_STATEMENT),
            earned_at=pl.col("earned_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            payable_on="payable_on",
            payment_id="payment_id",
            conversion_id="conversion_id",
            offer_id="offer_id",
            rule="rule",
            currency="currency",
            base_amount_minor="base_amount_minor",
            amount_minor="amount_minor",
            amount=format_minor_expr(pl.col("amount_minor"), pl.col("currency")),
            carried_from_period="carried_from_period",
            note=_note(),
        )
    )


def _exported_statement(
    statement: pl.DataFrame, lines: pl.DataFrame, affiliates: pl.DataFrame
) -> pl.DataFrame:
    if "held_minor" not in statement.columns:  # a month closed before lines could be held
        statement = statement.with_columns(held_minor=pl.lit(0, pl.Int64))
    return (
        _named(statement, affiliates)
        .join(_void_totals(lines), on=["affiliate_id", "currency"], how="left")
        .join(_held_lines(lines), on=["affiliate_id", "currency"], how="left")
        .with_columns(pl.col("void_minor", "void_lines", "held_lines").fill_null(0))
        .sort("affiliate_id", "currency")
        .with_columns(
            [format_minor_expr(pl.col(m), pl.col("currency")).alias(d) for d, m in _STATEMENT_MONEY.items()]
        )
        .select(
            "period",
            "affiliate_id",
            "affiliate_name",
            "affiliate_email",
            "currency",
            *_MONEY,
            *_STATEMENT_MONEY,
            "commission_lines",
            "reversal_lines",
            "reinstatement_lines",
            "line_count",
            "void_lines",
            "held_lines",
        )
    )


def _shape(
    lines: pl.DataFrame, statement: pl.DataFrame, affiliates: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The lines and statement as exported: names beside ids, void lines marked and summed apart,
    display amounts as text in the currency's decimals (the CSV's form; Parquet and XLSX make them
    numbers). Test-mode lines are in no statement and no export."""
    lines = lines.filter(pl.col("livemode"))
    return _exported_lines(lines, affiliates), _exported_statement(statement, lines, affiliates)


def _as_decimals(frame: pl.DataFrame, money: dict[str, str]) -> pl.DataFrame:
    """Parquet's form: display amounts as exact Decimal(38, 3), and the currency's exponent beside the
    currency, so a reader can show each amount with its own decimals."""
    columns = frame.columns
    at = columns.index("currency") + 1
    return frame.with_columns(
        [minor_to_decimal_expr(pl.col(minor), pl.col("currency")).alias(d) for d, minor in money.items()],
        currency_exponent=exponent_expr(pl.col("currency")),
    ).select(*columns[:at], "currency_exponent", *columns[at:])


def _header(period: str, closed_at: datetime | None, statement: pl.DataFrame, now: datetime) -> list[str]:
    status = (
        f"closed at {closed_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
        if closed_at
        else f"open: can still change; generated at {now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    )
    totals = (
        statement.group_by("currency")
        .agg(pl.col("gross_minor").sum(), pl.col("net_minor").sum(), pl.col("payable_minor").sum(), pl.len())
        .sort("currency")
    )
    header = ["Attro commission statement", f"period: {period}", f"status: {status}"]
    for cur, gross, net, payable, n in totals.iter_rows():
        header.append(
            f"totals {cur}: gross {format_minor(gross, cur)}, net {format_minor(net, cur)}, "
            f"payable {format_minor(payable, cur)} ({n} affiliate{'' if n == 1 else 's'})"
        )
    if totals.is_empty():
        header.append("totals: no commission lines in this period")
    return header


def statement_csv(header: list[str], statement: pl.DataFrame, lines: pl.DataFrame) -> bytes:
    """The CSV export: `# ` header lines, the statement, then the lines (text cells a spreadsheet
    would run as formulas are written as text)."""
    out = io.StringIO()
    for line in header:
        out.write(f"# {line}\n")
    out.write("# section: statement\n")
    out.write(safe_frame(statement).write_csv())
    out.write("\n# section: lines\n")
    out.write(safe_frame(lines).write_csv())
    return out.getvalue().encode("utf-8")


def _read_period(settings: Settings, period: str) -> tuple[pl.DataFrame, pl.DataFrame, datetime | None]:
    """(lines, statements, closed at): a closed month's frozen snapshot, else the published warehouse."""
    period_closed_at = closed_at(settings).get(period)
    if period_closed_at is not None:
        return (*frozen_period(settings, period), period_closed_at)
    try:
        return (*read_published_period(settings, period), None)
    except PeriodError as exc:
        raise ExportError(str(exc)) from None


def _writers(
    fmt: str,
    out: Path,
    stem: str,
    header: list[str],
    statement: pl.DataFrame,
    lines: pl.DataFrame,
    created: datetime,
) -> dict[Path, Callable[[Path], None]]:
    """Each file of the format and how to write it to a given (temporary) path."""
    if fmt == "csv":
        data = statement_csv(header, statement, lines)
        return {out / f"{stem}.csv": lambda tmp: tmp.write_bytes(data)}
    # A time a Parquet reader or a spreadsheet can sort and filter by, not the CSV's text (the same
    # instant: a UTC timestamp in Parquet; Excel has no time zones, so UTC's wall time there).
    lines = lines.with_columns(pl.col("earned_at").str.to_datetime("%Y-%m-%dT%H:%M:%SZ"))
    if fmt == "parquet":
        meta = {"attro.header": json.dumps(header)}
        frames = {
            out / f"{stem}.statement.parquet": _as_decimals(statement, _STATEMENT_MONEY),
            out / f"{stem}.lines.parquet": _as_decimals(
                lines.with_columns(pl.col("earned_at").dt.replace_time_zone("UTC")), _LINE_MONEY
            ),
        }
        return {t: (lambda tmp, f=f: f.write_parquet(tmp, metadata=meta)) for t, f in frames.items()}
    sheets = [
        Sheet("statement", statement, _STATEMENT_MONEY),
        Sheet("lines", lines, _LINE_MONEY, muted=lambda line: not line["in_statement"]),
    ]
    return {
        out / f"{stem}.xlsx": lambda tmp: write_workbook(
            tmp, created, header[1], [*header, "", *READING], sheets
        )
    }


def export_commissions(
    settings: Settings,
    period: str,
    fmt: str = "csv",
    out_dir: Path | None = None,
    now: datetime | None = None,
) -> Export:
    """Write the period's statement and lines; returns what was written."""
    try:
        check_period(period)
    except PeriodError as exc:
        raise ExportError(str(exc)) from None
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    now = now or datetime.now(UTC)
    out = out_dir or settings.exports_dir
    try:
        writable_dir(out)
    except OSError as exc:
        raise ExportError(f"cannot write to {out}: {exc.strerror or exc}") from None
    lines, statement, period_closed_at = _read_period(settings, period)
    try:
        affiliates = period_affiliates(settings, period, closed=period_closed_at is not None)
    except ProgramError as exc:
        raise ExportError(f"cannot name the affiliates: {exc}") from None
    header = _header(period, period_closed_at, statement, now)
    lines, statement = _shape(lines, statement, affiliates)
    # a closed month's workbook is stamped with its closing time, so every export of it is the same
    writers = _writers(fmt, out, f"commissions-{period}", header, statement, lines, period_closed_at or now)
    try:
        write_all_or_none(writers)
    except OSError as exc:
        raise ExportError(f"cannot write export to {out}: {exc}") from None
    return Export(period=period, files=list(writers), lines=lines, statement=statement, header=header)
