"""The versions of each offer the rules apply: the program file's terms as runs recorded them over time.

A record (core/state/offer_terms.py) is an offer's versions and tiers as a run first saw them, at
`seen_at`. The first record of an offer rules all history before the next one (its versions keep their
own `effective_from`); each later record rules from its `seen_at` on: its version in force at that
moment starts then, and its versions dated later start when they say. Edits therefore apply to chains
attributed after a run saw them, and an offer never edited is exactly the file's versions. Versions are
numbered 1, 2, … in time order; the names and attribution windows are the file's (else the last
record's, for an offer removed from the file).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from core.contracts import OFFER, OFFER_TERMS, OFFER_TIER, TIER_TERMS, conform
from models.commissions import BEGINNING


def _starts(row: dict[str, Any]) -> datetime:
    return row["effective_from"] or BEGINNING


def offer_timeline(
    current: pl.DataFrame, recorded: pl.DataFrame, recorded_tiers: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(OFFER, OFFER_TIER) frames of every recorded offer's versions in force over time; `current` is
    the program file's OFFER frame (names and windows)."""
    about = {
        row["offer_id"]: (row["name"], row["attribution_window_days"])
        for row in current.unique("offer_id", keep="first").iter_rows(named=True)
    }
    offers, tiers = [], []
    for (offer_id,), records in recorded.sort("seen_at", "version").group_by("offer_id", maintain_order=True):
        seen = records["seen_at"].unique(maintain_order=True).to_list()
        rows = []
        for k, seen_at in enumerate(seen):
            versions = sorted(records.filter(pl.col("seen_at") == seen_at).iter_rows(named=True), key=_starts)
            until = seen[k + 1] if k + 1 < len(seen) else None
            if k == 0:
                kept = [dict(v) for v in versions if until is None or _starts(v) < until]
            else:
                in_force = [v for v in versions if _starts(v) <= seen_at][-1]
                kept = [{**in_force, "effective_from": seen_at}]
                kept += [
                    dict(v)
                    for v in versions
                    if seen_at < _starts(v) and (until is None or _starts(v) < until)
                ]
            rows += [(seen_at, v) for v in kept]
        rows.sort(key=lambda item: _starts(item[1]))
        name, window = about.get(offer_id, (rows[-1][1]["name"], rows[-1][1]["attribution_window_days"]))
        number, previous = 0, None
        for seen_at, row in rows:
            of_record = recorded_tiers.filter(
                (pl.col("offer_id") == offer_id)
                & (pl.col("seen_at") == seen_at)
                & (pl.col("version") == row["version"])
            ).select(TIER_TERMS)
            terms = ({c: row[c] for c in OFFER_TERMS}, of_record.rows())
            if terms == previous:  # the same terms go on (a record that changed another version)
                continue
            number, previous = number + 1, terms
            offers.append({**row, "offer_id": offer_id, "version": number, "name": name,
                           "attribution_window_days": window})  # fmt: skip
            tiers += [
                {**tier, "offer_id": offer_id, "version": number} for tier in of_record.iter_rows(named=True)
            ]
    return (
        conform(pl.DataFrame(offers, schema=OFFER | {"seen_at": pl.Datetime("us", "UTC")}), OFFER),
        conform(pl.DataFrame(tiers, schema=OFFER_TIER | {"seen_at": pl.Datetime("us", "UTC")}), OFFER_TIER),
    )
