"""Offer terms and promotion-code mappings as runs saw them, kept under $ATTRO_DATA_DIR/state/ outside
the warehouse (`offer_terms.jsonl`, `code_owners.jsonl`).

Terms are locked when a subscription is first attributed (DESIGN §4): an offer edited in the program
file applies to chains attributed from then on, never to those before. The program file holds only its
current terms, so a run that finds an offer's terms (its versions and tiers) other than the last ones
recorded appends them to `offer_terms.jsonl`, stamped with the run's time; `models/offer_history.py`
turns the record into the versions the rules apply. Like closed periods and review decisions, the
record is kept outside the warehouse: a rebuild from the landing zone applies the same terms. An offer
removed from the file keeps its last terms for the chains attributed under it. Names and attribution
windows are not terms: they follow the file (a longer window applies on the next run).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from core.contracts import CODE, OFFER, OFFER_TERMS, OFFER_TIER, TIER_TERMS, conform
from core.durable import append_lines
from core.settings import Settings

FILE = "offer_terms.jsonl"
# What is recorded of an offer's versions and tiers: their terms, by version number and start.
TERM_COLUMNS = ("version", "effective_from", *OFFER_TERMS)
TIER_COLUMNS = ("version", *TIER_TERMS)


def terms_path(settings: Settings) -> Path:
    return settings.state_dir / FILE


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):  # 20.0000 → "20", 12.5000 → "12.5"
        return str(int(value)) if value == value.to_integral_value() else str(value.normalize())
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def _terms(offers: pl.DataFrame, tiers: pl.DataFrame, offer_id: str) -> dict[str, list[dict]]:
    """One offer's terms as plain JSON values, in a canonical order."""
    versions = offers.filter(pl.col("offer_id") == offer_id).sort("version").select(TERM_COLUMNS)
    levels = (
        tiers.filter(pl.col("offer_id") == offer_id).sort("version", "min_conversions").select(TIER_COLUMNS)
    )
    return {
        "versions": [{k: _plain(v) for k, v in row.items()} for row in versions.iter_rows(named=True)],
        "tiers": [{k: _plain(v) for k, v in row.items()} for row in levels.iter_rows(named=True)],
    }


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file, each with a readable `seen_at`; a torn last line (a crash
    mid-append) is skipped."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            datetime.fromisoformat(entry["seen_at"])
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def _read(path: Path) -> list[dict[str, Any]]:
    return [
        e
        for e in _read_lines(path)
        if isinstance(e.get("offer_id"), str) and isinstance(e.get("terms"), dict)
    ]


def _append(path: Path, entries: list[dict[str, Any]]) -> None:
    append_lines(path, [json.dumps(entry, sort_keys=True) for entry in entries])


def _after(now: datetime, previous: str | None) -> datetime:
    """When a record is seen: the run's time, and always after the previous record (a run whose clock
    is pinned or stepped back must not date an edit at or before the last one: records of the same
    time would merge, and the edit rule all of history)."""
    seen = now.astimezone(UTC).replace(microsecond=0)
    if previous is not None:
        seen = max(seen, datetime.fromisoformat(previous) + timedelta(seconds=1))
    return seen


def record_offer_terms(
    settings: Settings, offers: pl.DataFrame, tiers: pl.DataFrame, now: datetime
) -> list[dict[str, Any]]:
    """Append the terms of each offer of the program file (OFFER and OFFER_TIER frames) that differ
    from the last recorded for it, seen at `now`; returns every record, oldest first."""
    path = terms_path(settings)
    entries = _read(path)
    last = {entry["offer_id"]: entry for entry in entries}
    new = []
    for offer_id in offers["offer_id"].unique(maintain_order=True).to_list():
        terms = _terms(offers, tiers, offer_id)
        previous = last.get(offer_id)
        if previous is not None and previous["terms"] == terms:
            continue
        seen = _after(now, previous["seen_at"] if previous is not None else None)
        first = offers.filter(pl.col("offer_id") == offer_id).row(0, named=True)
        new.append(
            {
                "offer_id": offer_id,
                "seen_at": seen.isoformat(),
                "terms": terms,
                # not terms: for an offer later removed from the file
                "name": first["name"],
                "attribution_window_days": first["attribution_window_days"],
            }
        )
    if new:
        _append(path, new)
    return entries + new


def recorded_frames(entries: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The record as frames: OFFER rows and OFFER_TIER rows, each with the `seen_at` of its record."""
    offers, tiers = [], []
    for entry in entries:
        seen = datetime.fromisoformat(entry["seen_at"])
        about = {"offer_id": entry["offer_id"], "seen_at": seen, "name": entry.get("name")}
        about["attribution_window_days"] = entry.get("attribution_window_days")
        offers += [{**row, **about} for row in entry["terms"]["versions"]]
        tiers += [{**row, "offer_id": entry["offer_id"], "seen_at": seen} for row in entry["terms"]["tiers"]]
    seen_at = {"seen_at": pl.Datetime("us", "UTC")}
    offer_schema = dict(OFFER) | seen_at
    tier_schema = dict(OFFER_TIER) | seen_at
    return (
        conform(_frame(offers, offer_schema), offer_schema),
        conform(_frame(tiers, tier_schema), tier_schema),
    )


def _frame(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Rows of plain JSON values in `schema` (percent as text → decimal, times as ISO text)."""
    typed = []
    for row in rows:
        item = {}
        for name, dtype in schema.items():
            value = row.get(name)
            if value is not None and isinstance(dtype, pl.Decimal):
                value = Decimal(str(value))
            elif value is not None and isinstance(dtype, pl.Datetime) and isinstance(value, str):
                value = datetime.fromisoformat(value)
            item[name] = value
        typed.append(item)
    return pl.DataFrame(typed, schema=schema)


# -- promotion codes ----------------------------------------------------------------------------------
# A sale through a code belongs to the affiliate (and offer) the code was mapped to when the sale was
# made: a `[[codes]]` entry moved to another affiliate, or to another offer, applies to sales from the
# run that first sees the change. The whole mapping is recorded each time it changes.

CODES_FILE = "code_owners.jsonl"
RECORDED_CODE = dict(CODE) | {
    "recorded_from": pl.Datetime("us", "UTC"),
    "recorded_until": pl.Datetime("us", "UTC"),
}


def _code_rows(codes: pl.DataFrame) -> list[dict[str, Any]]:
    rows = codes.select(list(CODE)).sort(list(CODE), nulls_last=True).iter_rows(named=True)
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def _code_key(row: dict[str, Any]) -> tuple[str | None, str | None]:
    return ((row.get("code") or "").upper() or None, row.get("promotion_code_id"))


def record_code_owners(settings: Settings, codes: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """Append the program file's code mapping (a CODE frame) when it differs from the last recorded;
    returns every recorded mapping's rows, each with the time range it ruled sales in
    (`recorded_from` null: from the beginning; `recorded_until` null: still in force).

    Who a code belongs to (affiliate, offer) is locked this way; a code's first mapping rules the sales
    before it too (a code mapped late claims its earlier sales, as a longer window does for clicks),
    and a code removed from the file earns nothing from then on. Its `valid_from`/`valid_until` are the
    file's, as it says them now: a merchant who ends a code means the sales after that date."""
    path = settings.state_dir / CODES_FILE
    entries = [e for e in _read_lines(path) if isinstance(e.get("codes"), list)]
    rows = _code_rows(codes)
    if not entries or entries[-1]["codes"] != rows:
        seen = _after(now, entries[-1]["seen_at"] if entries else None)
        entry = {"seen_at": seen.isoformat(), "codes": rows}
        _append(path, [entry])
        entries.append(entry)
    dates = {_code_key(row): (row["valid_from"], row["valid_until"]) for row in rows}
    recorded, known = [], set()
    for k, entry in enumerate(entries):
        until = datetime.fromisoformat(entries[k + 1]["seen_at"]) if k + 1 < len(entries) else None
        for row in entry["codes"]:
            key = _code_key(row)
            start = datetime.fromisoformat(entry["seen_at"]) if key in known else None
            known.add(key)
            valid_from, valid_until = dates.get(key, (row.get("valid_from"), row.get("valid_until")))
            recorded.append(
                {**row, "valid_from": valid_from, "valid_until": valid_until}
                | {"recorded_from": start, "recorded_until": until}
            )
    return conform(_frame(recorded, RECORDED_CODE), RECORDED_CODE)
