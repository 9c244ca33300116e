"""Closed periods on disk: the frozen ledger lines and statements of each month `attro close-period` closed.

Kept under $ATTRO_DATA_DIR/state/closed_periods/<YYYY-MM>/ (lines.parquet, statements.parquet,
affiliates.parquet, closed.json) — outside the warehouse, so a rebuild from landing keeps every closed
month as it was. affiliates.parquet (who each affiliate was: id, name, email) is absent from months
closed before it was frozen.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from core.contracts import AFFILIATE_CONTACT, LEDGER_LINE, STATEMENT, conform, empty
from core.durable import fsync_dir, make_dirs_durably
from core.settings import Settings

PERIOD_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$", re.ASCII)  # not a full-width or Arabic-Indic digit


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

    @classmethod
    def none(cls) -> ClosedPeriods:
        """No month closed yet."""
        return cls({}, empty(LEDGER_LINE), empty(STATEMENT))


def periods_dir(settings: Settings) -> Path:
    return settings.state_dir / "closed_periods"


@contextlib.contextmanager
def closing_lock(settings: Settings) -> Iterator[None]:
    """One close at a time per data dir (an advisory lock on the `closed_periods` folder itself): a
    second close of the same month waits, then finds it closed. Temp folders a killed close left are
    swept here."""
    root = periods_dir(settings)
    make_dirs_durably(root)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        for leftover in root.glob(".????-??.*.tmp"):
            shutil.rmtree(leftover, ignore_errors=True)
        yield
    finally:
        os.close(fd)  # releases the lock


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
    lines = conform(pl.read_parquet(folder / "lines.parquet"), LEDGER_LINE)
    # a month closed before statements had `held_minor` held nothing
    statements = conform(pl.read_parquet(folder / "statements.parquet"), STATEMENT)
    return lines, statements.with_columns(pl.col("held_minor").fill_null(0))


def frozen_affiliates(settings: Settings, period: str) -> pl.DataFrame | None:
    """The affiliates (id, name, email) as they were when the month closed; None for a month closed
    before the directory was frozen with it."""
    path = periods_dir(settings) / period / "affiliates.parquet"
    if not path.exists():
        return None
    return pl.read_parquet(path).cast(AFFILIATE_CONTACT)  # type: ignore[arg-type]


def load_closed(settings: Settings) -> ClosedPeriods:
    """Every closed month's frozen lines and statements."""
    closed = closed_at(settings)
    lines, statements = [empty(LEDGER_LINE)], [empty(STATEMENT)]
    for period in closed:
        period_lines, period_statements = frozen_period(settings, period)
        lines.append(period_lines)
        statements.append(period_statements)
    return ClosedPeriods(closed, pl.concat(lines), pl.concat(statements))


def write_closed_period(
    settings: Settings,
    period: str,
    lines: pl.DataFrame,
    statements: pl.DataFrame,
    meta: dict,
    affiliates: pl.DataFrame | None = None,
) -> None:
    """Write a closed month durably: a temp folder with its files fsynced, renamed into place, the
    parent fsynced (the closed month is the only copy of its figures: its name must survive a crash).
    `affiliates` (AFFILIATE_CONTACT) freezes who the month's affiliates were, for its exports."""
    root = periods_dir(settings)
    make_dirs_durably(root)
    tmp = root / f".{period}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    try:
        conform(lines, LEDGER_LINE).write_parquet(tmp / "lines.parquet")
        conform(statements, STATEMENT).write_parquet(tmp / "statements.parquet")
        if affiliates is not None:
            conform(affiliates, AFFILIATE_CONTACT).write_parquet(tmp / "affiliates.parquet")
        (tmp / "closed.json").write_text(json.dumps(meta, indent=2) + "\n")
        for child in tmp.iterdir():
            with child.open("rb") as fh:
                os.fsync(fh.fileno())
        try:
            os.replace(tmp, root / period)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):  # closed meanwhile, not under closing_lock
                raise PeriodError(f"{period} was closed meanwhile by another close-period") from None
            raise
        fsync_dir(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
