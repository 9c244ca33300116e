"""Review decisions on risk flags, kept under $ATTRO_DATA_DIR/state/ outside the warehouse.

`review_decisions.jsonl` is append-only: one line per decision (flag id, approved or rejected, when,
note), written with one append and an fsync, so a rebuild of the warehouse from the landing zone
applies every decision again; the latest decision on a flag is the one that holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from core.contracts import DECIDED_FLAG, RISK_DECISION, conform, empty
from core.durable import append_lines
from core.settings import Settings

DECISIONS = ("approved", "rejected")
FLAG_ID = re.compile(r"^rf_[0-9a-f]{16}$")


class ReviewError(ValueError):
    """A decision cannot be recorded (malformed flag id, unknown decision, unwritable state)."""


def decisions_path(settings: Settings) -> Path:
    return settings.state_dir / "review_decisions.jsonl"


def record_decision(
    settings: Settings,
    flag_id: str,
    decision: str,
    note: str | None = None,
    now: datetime | None = None,
    flag: Mapping[str, Any] | None = None,
) -> dict:
    """Append a decision durably; returns it as recorded. `flag` is the flag as the published warehouse
    shows it (its DECIDED_FLAG columns), kept with the decision: a rejection still voids the sale's
    commission after its rule stops raising the flag."""
    if not FLAG_ID.fullmatch(flag_id or ""):
        raise ReviewError(f"{flag_id!r} is not a flag id (rf_ and 16 hex digits; see `attro review list`)")
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    entry = {"flag_id": flag_id, "decision": decision, "decided_at": at.isoformat(), "note": note or None}
    if flag is not None:
        entry["flag"] = {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in ((name, flag.get(name)) for name in DECIDED_FLAG)
        }
    path = decisions_path(settings)
    try:
        append_lines(path, [json.dumps(entry, ensure_ascii=False)])
    except OSError as exc:
        raise ReviewError(f"cannot record the decision in {path}: {exc.strerror or exc}") from None
    return entry


def load_decisions(settings: Settings) -> pl.DataFrame:
    """Every decision recorded, oldest first (a torn last line, from a crash mid-append, is skipped)."""
    path = decisions_path(settings)
    if not path.exists():
        return empty(RISK_DECISION)
    rows = [
        {
            **{k: v for k, v in entry.items() if k != "flag"},
            "decided_at": at,
            **{f"flag_{name}": _flag_value(entry, name) for name in DECIDED_FLAG},
        }
        for entry, at in _entries(path.read_text(encoding="utf-8"))
    ]
    return (
        conform(pl.DataFrame(rows, schema=dict(RISK_DECISION)), RISK_DECISION)
        if rows
        else empty(RISK_DECISION)
    )


def _flag_value(entry: Mapping[str, Any], name: str) -> Any:
    value = (entry.get("flag") if isinstance(entry.get("flag"), dict) else {}).get(name)
    if name == "detected_at" and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return value if isinstance(value, str) else None


def recorded_decisions(settings: Settings) -> dict[str, dict[str, Any]]:
    """The latest recorded decision per flag id, as written (the store is small: one line per decision
    taken); none when the store cannot be read."""
    try:
        text = decisions_path(settings).read_text(encoding="utf-8")
    except OSError:
        return {}
    return {entry["flag_id"]: entry for entry, _at in _entries(text)}


def _entries(text: str) -> Iterator[tuple[dict[str, Any], datetime]]:
    """Each decision of the store's text, oldest first, with its time read; a torn line, or one that is
    no decision (a hand edit: `"decision": "maybe"`, a flag id of another shape), is skipped."""
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            at = datetime.fromisoformat(entry["decided_at"])
        except (ValueError, KeyError, TypeError):
            continue
        flag_id = entry.get("flag_id")
        if isinstance(flag_id, str) and FLAG_ID.fullmatch(flag_id) and entry.get("decision") in DECISIONS:
            yield entry, at
