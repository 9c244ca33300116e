"""The clicks the rules read: one row per click id of our format, whatever order the rows landed in."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from core.click_ids import new_click_id
from models.clicks import build_clicks, clicks_and_landed_again
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


def test_every_copy_but_the_kept_one_is_listed_as_landed_again_whatever_the_ids_order() -> None:
    # Re-read: the copies to leave out were found by row numbers of two different frames, so an id
    # whose kept copy sorted before another id's lost its own landed-again copy (the view then showed
    # it twice).
    first, second = new_click_id(AT), new_click_id(AT)
    rows = [
        {
            "click_id": click_id,
            "clicked_at": AT,
            "received_at": AT + timedelta(hours=hours),
            "link_code": code,
        }
        for click_id, hours, code in [
            (first, 0, "jane-pro"),
            (first, 1, "omar-all"),
            (second, 2, "jane-pro"),
            (second, 3, "omar-all"),
        ]
    ]

    clicks, landed_again = clicks_and_landed_again(pl.DataFrame(rows))

    assert sorted(clicks.select("click_id", "link_code").rows()) == sorted(
        [(first, "jane-pro"), (second, "jane-pro")]
    )
    assert sorted(landed_again.select("click_id", "link_code").rows()) == sorted(
        [(first, "omar-all"), (second, "omar-all")]
    )
