"""Finance exports: a period's commission lines and per-affiliate statement, with a header.

A closed period is exported from its frozen snapshot (state/closed_periods/), so exporting it twice
gives byte-identical files; an open period is exported from the published warehouse and says when it
was generated, since it can still change.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from core.settings import Settings
from core.state.closed_periods import PeriodError, check_period, closed_at, frozen_period
from models.money import format_minor, format_minor_expr
from pipelines.lib.warehouse import read_published_period

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
)


class ExportError(RuntimeError):
    """The export could not be written; nothing partial is left behind."""


@dataclass(frozen=True)
class Export:
    period: str
    files: list[Path]
    lines: pl.DataFrame
    statement: pl.DataFrame
    header: list[str]


def _shape(lines: pl.DataFrame, statement: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    lines = (
        lines.filter(pl.col("livemode"))
        .sort("affiliate_id", "earned_at", "line_id")
        .select(
            "period",
            "affiliate_id",
            "line_id",
            "kind",
            "status",
            pl.col("earned_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "payable_on",
            "payment_id",
            "conversion_id",
            "offer_id",
            "rule",
            "currency",
            "base_amount_minor",
            "amount_minor",
            amount=format_minor_expr(pl.col("amount_minor"), pl.col("currency")),
        )
    )
    statement = (
        statement.sort("affiliate_id", "currency")
        .with_columns(
            [format_minor_expr(pl.col(c), pl.col("currency")).alias(c.removesuffix("_minor")) for c in _MONEY]
        )
        .select(
            "period",
            "affiliate_id",
            "currency",
            *_MONEY,
            *[c.removesuffix("_minor") for c in _MONEY],
            "commission_lines",
            "reversal_lines",
            "reinstatement_lines",
            "line_count",
        )
    )
    return lines, statement


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
            f"payable {format_minor(payable, cur)} ({n} affiliates)"
        )
    if totals.is_empty():
        header.append("totals: no commission lines in this period")
    return header


def _atomic_write_all(writers: dict[Path, Callable[[Path], None]]) -> None:
    """Write every file to a temp name first; rename them only once all were written."""
    temps: dict[Path, Path] = {}
    for target in writers:
        if target.exists() and not target.is_file():
            raise IsADirectoryError(f"{target} exists and is not a file")
    try:
        for target, write in writers.items():
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            os.close(fd)
            temps[target] = Path(tmp_name)
            write(temps[target])
        for target, tmp in temps.items():
            os.replace(tmp, target)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


def _csv(header: list[str], statement: pl.DataFrame, lines: pl.DataFrame) -> bytes:
    out = io.StringIO()
    for line in header:
        out.write(f"# {line}\n")
    out.write("# section: statement\n")
    out.write(statement.write_csv())
    out.write("\n# section: lines\n")
    out.write(lines.write_csv())
    return out.getvalue().encode("utf-8")


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
        out.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out, prefix=".probe.", delete=True)  # noqa: SIM115
        probe.close()
    except OSError as exc:
        raise ExportError(f"cannot write to {out}: {exc.strerror or exc}") from None
    period_closed_at = closed_at(settings).get(period)
    if period_closed_at is not None:
        lines, statement = frozen_period(settings, period)
    else:
        try:
            lines, statement = read_published_period(settings, period)
        except PeriodError as exc:
            raise ExportError(str(exc)) from None
    header = _header(period, period_closed_at, statement, now)
    lines, statement = _shape(lines, statement)
    stem = f"commissions-{period}"
    files: list[Path] = []
    try:
        if fmt == "csv":
            target = out / f"{stem}.csv"
            data = _csv(header, statement, lines)
            _atomic_write_all({target: lambda tmp: tmp.write_bytes(data)})
            files.append(target)
        elif fmt == "parquet":
            meta = {"attro.header": json.dumps(header)}
            targets = {out / f"{stem}.statement.parquet": statement, out / f"{stem}.lines.parquet": lines}
            _atomic_write_all(
                {t: (lambda tmp, f=f: f.write_parquet(tmp, metadata=meta)) for t, f in targets.items()}
            )
            files.extend(targets)
        else:
            target = out / f"{stem}.xlsx"

            def workbook(tmp: Path) -> None:
                import xlsxwriter

                with xlsxwriter.Workbook(tmp) as wb:
                    # a fixed creation time keeps a closed period's workbook byte-identical
                    wb.set_properties(
                        {"created": (period_closed_at or now).replace(tzinfo=None), "title": header[1]}
                    )
                    summary = wb.add_worksheet("summary")
                    for row, line in enumerate(header):
                        summary.write(row, 0, line)
                    statement.write_excel(wb, worksheet="statement", autofit=False)
                    lines.write_excel(wb, worksheet="lines", autofit=False)

            _atomic_write_all({target: workbook})
            files.append(target)
    except OSError as exc:
        raise ExportError(f"cannot write export to {out}: {exc}") from None
    return Export(period=period, files=files, lines=lines, statement=statement, header=header)
