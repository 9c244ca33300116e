"""The versions the rules apply when an offer's terms were recorded several times (offer_history)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import polars as pl

from core.contracts import OFFER, OFFER_TIER
from models.offer_history import offer_timeline

SEEN = pl.Datetime("us", "UTC")


def at(month: int, day: int = 1) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC)


def record(seen_at: datetime, *versions: tuple[datetime | None, int]) -> list[dict]:
    return [
        {
            "offer_id": "pro",
            "version": n,
            "effective_from": start,
            "name": "Pro",
            "type": "percent",
            "percent": Decimal(percent),
            "recurring": "lifetime",
            "attribution_window_days": 60,
            "holding_days": 30,
            "seen_at": seen_at,
        }  # fmt: skip
        for n, (start, percent) in enumerate(versions, start=1)
    ]


def test_each_record_rules_from_when_a_run_saw_it_and_a_version_dated_earlier_starts_then() -> None:
    rows = [
        *record(at(1), (None, 20), (at(7), 15)),  # the file at the first run: 15 % planned from July
        *record(at(3), (None, 25), (at(7), 15)),  # March: the base rate edited in place
        *record(at(8), (None, 25), (at(6), 30), (at(7), 15)),  # August: a version dated June added
    ]
    recorded = pl.DataFrame(rows, schema=OFFER | {"seen_at": SEEN})
    current = (
        recorded.filter(pl.col("seen_at") == at(8)).drop("seen_at").with_columns(name=pl.lit("Pro plan"))
    )

    offers, tiers = offer_timeline(current, recorded, pl.DataFrame(schema=OFFER_TIER | {"seen_at": SEEN}))

    assert offers.select("version", "effective_from", "percent", "name").rows() == [
        (1, None, Decimal(20), "Pro plan"),  # all history before March
        (2, at(3), Decimal(25), "Pro plan"),  # from the run that saw the edit
        (3, at(7), Decimal(15), "Pro plan"),  # as planned; June's version was not in force when a
    ]  # run saw it, and July's terms go on from August (no version of the same terms)
    assert tiers.is_empty()


def test_a_tier_edit_is_a_new_version_with_its_tiers_and_an_unchanged_record_adds_none() -> None:
    rows = [*record(at(1), (None, 20)), *record(at(3), (None, 20)), *record(at(5), (None, 20))]
    recorded = pl.DataFrame(rows, schema=OFFER | {"seen_at": SEEN})
    tiers = pl.DataFrame(
        [
            {
                "offer_id": "pro",
                "version": 1,
                "name": "gold",
                "min_conversions": 5,
                "percent": Decimal(p),
                "seen_at": s,
            }
            for s, p in ((at(1), 25), (at(3), 25), (at(5), 30))  # March repeats January: May raises gold
        ],
        schema=OFFER_TIER | {"seen_at": SEEN},
    )

    offers, levels = offer_timeline(recorded.drop("seen_at"), recorded, tiers)

    assert offers.select("version", "effective_from").rows() == [(1, None), (2, at(5))]
    assert levels.select("offer_id", "version", "name", "percent").rows() == [
        ("pro", 1, "gold", Decimal(25)),
        ("pro", 2, "gold", Decimal(30)),
    ]
