"""The clicks the rules read: one row per click id of our format, whatever order the rows landed in."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from core.click_ids import new_click_id
from models.clicks import build_clicks
from tests.support.clock import utc

AT = utc("2026-03-02T14:30")


def landed(click_id: str, minutes: int, user_agent: str) -> dict:
    at = AT + timedelta(minutes=minutes)
    return {"click_id": click_id, "clicked_at": at, "link_code": "jane-pro", "user_agent": user_agent}


def test_a_click_id_landed_twice_keeps_its_earliest_click_and_the_first_landed_of_equal_ones() -> None:
    twice, tied, once = new_click_id(AT), new_click_id(AT), new_click_id(AT)
    rows = [
        landed(twice, 5, "later"),
        landed(once, 1, "only"),
        landed(tied, 3, "first landed"),
        landed(twice, 2, "earlier"),
        landed(tied, 3, "landed second"),
        landed("not-ours", 0, "foreign id"),
    ]

    clicks = build_clicks(pl.DataFrame(rows))

    kept = dict(clicks.select("click_id", "user_agent").rows())
    assert kept == {twice: "earlier", tied: "first landed", once: "only"}
    assert clicks["is_bot"].to_list() == [False, False, False]
