"""Finance exports: a period's commission lines and per-affiliate statement, from the published warehouse."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from attro.settings import Settings
from models.money import format_minor_expr

PERIOD_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
FORMATS = ("csv", "parquet", "xlsx")


class ExportError(RuntimeError):
    """The export could not be written; nothing partial is left behind."""


@dataclass(frozen=True)
class Export:
    period: str
    files: list[Path]
    lines: pl.DataFrame
    statement: pl.DataFrame


def check_period(period: str) -> str:
    if not PERIOD_PATTERN.fullmatch(period):
        raise ExportError(f"period must be YYYY-MM (e.g. 2026-10), got {period!r}")
    return period


def _read(settings: Settings, period: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    path = settings.warehouse_path
    if not path.exists():
        raise ExportError(f"no published warehouse at {path}: run `attro run` first")
    con = duckdb.connect(str(path), read_only=True)
    try:
        lines = con.sql(
            "select * from marts.commission_lines where period = ? and livemode order by earned_at, line_id",
            params=[period],
        ).pl()
        statement = con.sql(
            "select * from marts.affiliate_statements where period = ? order by affiliate_id, currency",
            params=[period],
        ).pl()
    finally:
        con.close()
    lines = lines.select(
        "period",
        "affiliate_id",
        "line_id",
        "kind",
        "status",
        "earned_at",
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
    money = [
        "gross_minor",
        "reversals_minor",
        "reinstatements_minor",
        "net_minor",
        "approved_minor",
        "pending_minor",
    ]
    statement = statement.with_columns(
        [format_minor_expr(pl.col(c), pl.col("currency")).alias(c.removesuffix("_minor")) for c in money]
    )
    return lines, statement


def _atomic_write(target: Path, write: callable) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def export_commissions(
    settings: Settings, period: str, fmt: str = "csv", out_dir: Path | None = None
) -> Export:
    """Write the period's lines and statement; returns the files written."""
    check_period(period)
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = out_dir or settings.exports_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise PermissionError(f"{out} is not writable")
    except OSError as exc:
        raise ExportError(f"cannot write to {out}: {exc}") from None
    lines, statement = _read(settings, period)
    files: list[Path] = []
    try:
        if fmt == "xlsx":
            target = out / f"commissions-{period}.xlsx"

            def workbook(tmp: Path) -> None:
                import xlsxwriter

                with xlsxwriter.Workbook(tmp) as wb:
                    statement.write_excel(wb, worksheet="statement")
                    lines.write_excel(wb, worksheet="lines")

            _atomic_write(target, workbook)
            files.append(target)
        else:
            for name, frame in (("commission-lines", lines), ("statement", statement)):
                target = out / f"{name}-{period}.{fmt}"
                if fmt == "csv":
                    _atomic_write(target, lambda tmp, f=frame: f.write_csv(tmp))
                else:
                    _atomic_write(target, lambda tmp, f=frame: f.write_parquet(tmp))
                files.append(target)
    except OSError as exc:
        raise ExportError(f"cannot write export to {out}: {exc}") from None
    return Export(period=period, files=files, lines=lines, statement=statement)
