"""Closed periods on disk: `attro close-period` freezes a month's ledger lines and statements.

Kept under $ATTRO_DATA_DIR/state/closed_periods/<YYYY-MM>/ (lines.parquet, statements.parquet,
closed.json) — outside the warehouse, so a rebuild from landing keeps every closed month as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from core.durable import fsync_dir, make_dirs_durably
from core.settings import Settings
from models.exprs import to_utc
from models.periods import LEDGER_SCHEMA
from models.statements import STATEMENT_SCHEMA

PERIOD_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class PeriodError(ValueError):
    """A period cannot be closed (malformed, current or future, already closed, pending lines)."""


@dataclass(frozen=True)
class ClosedPeriods:
    closed_at: dict[str, datetime]
    lines: pl.DataFrame
    statements: pl.DataFrame

    @property
    def periods(self) -> set[str]:
        return set(self.closed_at)


def periods_dir(settings: Settings) -> Path:
    return settings.state_dir / "closed_periods"


def check_period(period: str) -> str:
    if not PERIOD_PATTERN.fullmatch(period or ""):
        raise PeriodError(f"period must be YYYY-MM (e.g. 2026-10), got {period!r}")
    return period


def closed_at(settings: Settings) -> dict[str, datetime]:
    """When each closed month was closed, from its closed.json alone (its figures are not read)."""
    root = periods_dir(settings)
    closed: dict[str, datetime] = {}
    for folder in sorted(root.glob("????-??")) if root.exists() else []:
        meta_path = folder / "closed.json"
        if not meta_path.exists():
            continue  # an interrupted close: not closed
        meta = json.loads(meta_path.read_text())
        closed[meta["period"]] = datetime.fromisoformat(meta["closed_at"])
    return closed


def frozen_period(settings: Settings, period: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A closed month's frozen commission lines and statements."""
    folder = periods_dir(settings) / period
    lines = pl.read_parquet(folder / "lines.parquet").cast(LEDGER_SCHEMA)  # type: ignore[arg-type]
    statements = pl.read_parquet(folder / "statements.parquet").cast(STATEMENT_SCHEMA)  # type: ignore[arg-type]
    return lines, statements


def load_closed(settings: Settings) -> ClosedPeriods:
    """Every closed month's frozen lines and statements."""
    closed = closed_at(settings)
    lines, statements = [pl.DataFrame(schema=LEDGER_SCHEMA)], [pl.DataFrame(schema=STATEMENT_SCHEMA)]
    for period in closed:
        period_lines, period_statements = frozen_period(settings, period)
        lines.append(period_lines)
        statements.append(period_statements)
    return ClosedPeriods(closed, pl.concat(lines), pl.concat(statements))


def check_closable(settings: Settings, period: str, now: datetime | None = None) -> None:
    """PeriodError unless `period` is YYYY-MM, over by `now` and not closed yet (cheap: no run)."""
    check_period(period)
    now = now or datetime.now(UTC)
    if period >= now.strftime("%Y-%m"):
        raise PeriodError(
            f"{period} is not over yet (today is {now:%Y-%m-%d}); only past months can be closed"
        )
    closed = closed_at(settings)
    if period in closed:
        raise PeriodError(f"{period} was already closed at {closed[period].isoformat()}")


def read_published_period(settings: Settings, period: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A period's commission lines and statements as the published warehouse has them."""
    path = settings.warehouse_path
    if not path.exists():
        raise PeriodError(f"no published warehouse at {path}: run `attro run` first")
    con = duckdb.connect(str(path), read_only=True)
    try:
        lines = con.sql("select * from marts.commission_lines where period = ?", params=[period]).pl()
        statements = con.sql(
            "select * from marts.affiliate_statements where period = ?", params=[period]
        ).pl()
    finally:
        con.close()
    return to_utc(lines), to_utc(statements)


def close_period(
    settings: Settings, period: str, *, force: bool = False, now: datetime | None = None
) -> dict:
    """Freeze `period` as the published warehouse has it now. Nothing changes when it refuses."""
    now = now or datetime.now(UTC)
    check_closable(settings, period, now)
    lines, statements = read_published_period(settings, period)
    pending = lines.filter(pl.col("status") == "pending")
    if pending.height and not force:
        last = pending["payable_on"].max()
        raise PeriodError(
            f"{period} has {pending.height} pending line(s) (payable on {last} at the latest); "
            "wait until they are approved or pass --force"
        )
    stamp = now.replace(microsecond=0)
    statements = statements.with_columns(closed_at=pl.lit(stamp).cast(pl.Datetime("us", "UTC")))
    root = periods_dir(settings)
    make_dirs_durably(root)
    tmp = root / f".{period}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    try:
        lines.select([pl.col(n).cast(t) for n, t in LEDGER_SCHEMA.items()]).write_parquet(
            tmp / "lines.parquet"
        )
        statements.select([pl.col(n).cast(t) for n, t in STATEMENT_SCHEMA.items()]).write_parquet(
            tmp / "statements.parquet"
        )
        meta = {"period": period, "closed_at": stamp.isoformat(), "forced": force, "lines": lines.height}
        (tmp / "closed.json").write_text(json.dumps(meta, indent=2) + "\n")
        for child in tmp.iterdir():
            with child.open("rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, root / period)
        fsync_dir(root)  # the closed month is the only copy of its figures: its name must survive a crash
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return meta
