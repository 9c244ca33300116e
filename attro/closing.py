"""`attro close-period`: freeze a month's lines and statements as the published warehouse has them, and
who its affiliates were (names and emails from the program file)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from core.program import ProgramError, load_program
from core.settings import Settings
from core.state.closed_periods import (
    PeriodError,
    check_period,
    closed_at,
    closing_lock,
    write_closed_period,
)
from models.statements import forced_carry
from pipelines.affiliates import affiliate_directory
from pipelines.lib.warehouse import read_published_period


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


def close_period(
    settings: Settings, period: str, *, force: bool = False, now: datetime | None = None
) -> dict:
    """Freeze `period` as the published warehouse has it now. Nothing changes when it refuses."""
    now = now or datetime.now(UTC)
    with closing_lock(settings):
        return _close(settings, period, force, now)


def _close(settings: Settings, period: str, force: bool, now: datetime) -> dict:
    check_closable(settings, period, now)
    lines, statements = read_published_period(settings, period)
    pending = lines.filter(pl.col("status") == "pending")
    if pending.height and not force:
        last = pending["payable_on"].max()
        raise PeriodError(
            f"{period} has {pending.height} pending line(s) (payable on {last} at the latest); "
            "wait until they are approved or pass --force"
        )
    try:
        # who the affiliates were at closing: the month's exports name them so, whatever the file says later
        program = load_program(settings.program_path)
    except ProgramError as exc:
        raise PeriodError(f"cannot freeze the affiliates' names: {exc}") from None
    affiliates = affiliate_directory(program, [*lines["affiliate_id"], *statements["affiliate_id"]])
    stamp = now.replace(microsecond=0)
    # pending lines a --force leaves are paid apart once approved: a debt is carried whole
    statements = statements.with_columns(
        forced_carry(), closed_at=pl.lit(stamp).cast(pl.Datetime("us", "UTC"))
    )
    meta = {"period": period, "closed_at": stamp.isoformat(), "forced": force, "lines": lines.height}
    write_closed_period(settings, period, lines, statements, meta, affiliates)
    # lines still held for review are frozen held: a decision later pays or voids them in the first open
    # month (a correction); the command says how many, so closing is not mistaken for settling them
    return {**meta, "held": lines.filter(pl.col("status") == "held").height}
