"""Closed months written straight into state (no landing, no run): small exact cases for what reads
a closed month, such as payout files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from core.contracts import LEDGER_LINE, STATEMENT, empty
from core.settings import Settings
from core.state.closed_periods import write_closed_period

CLOSED_AT = datetime(2026, 2, 3, 9, 0, tzinfo=UTC)


def statement(affiliate_id: str, currency: str, payable_minor: int, pending_minor: int = 0) -> dict:
    """A statement row whose payable and pending amounts are as given (the rest follows from them)."""
    net = max(payable_minor, 0) + pending_minor
    return {
        "affiliate_id": affiliate_id,
        "currency": currency,
        "opening_balance_minor": min(payable_minor, 0),
        "gross_minor": net,
        "net_minor": net,
        "closing_balance_minor": net,
        "payable_minor": payable_minor,
        "approved_minor": max(payable_minor, 0),
        "pending_minor": pending_minor,
    }


def close_by_hand(settings: Settings, period: str, rows: list[dict], closed_at: datetime = CLOSED_AT) -> None:
    """Close `period` with these statement rows and no lines, as `attro close-period` leaves it."""
    frame = pl.DataFrame(
        [{**row, "period": period, "closed_at": closed_at} for row in rows], schema=STATEMENT, strict=False
    )
    meta = {"period": period, "closed_at": closed_at.isoformat(), "forced": False, "lines": 0}
    write_closed_period(settings, period, empty(LEDGER_LINE), frame, meta)


def program_with_affiliates(path: Path, affiliates: list[dict[str, str]]) -> Path:
    """A program file listing just these affiliates (keys as in the file: id, name, paypal_email, …)."""
    blocks = ["[[affiliates]]\n" + "".join(f'{k} = "{v}"\n' for k, v in a.items()) for a in affiliates]
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path
