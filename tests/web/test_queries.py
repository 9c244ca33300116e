"""The page queries on their own, over a small warehouse made for each case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from web import queries

DAY = datetime(2026, 11, 10, 12, tzinfo=UTC)


def test_paging_through_clicks_that_share_a_time_shows_each_click_once() -> None:
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    con.execute("create schema marts")
    con.execute(
        "create table marts.clicks (click_id varchar, clicked_at timestamptz, affiliate_id varchar,"
        " link_code varchar, utm_source varchar, utm_medium varchar, utm_campaign varchar,"
        " referer varchar, is_bot boolean)"
    )
    # an edge-log import: times to the second, 20 clicks in each of three seconds, and one a day earlier
    times = [DAY + timedelta(seconds=n // 20) for n in range(60)] + [DAY - timedelta(days=1)]
    for n, at in enumerate(times):
        con.execute(
            "insert into marts.clicks values (?, ?, 'kenji', 'kenji-ten', null, null, null, null, false)",
            [f"c{n:03d}", at],
        )
    con.execute(
        "create table marts.funnel_daily as select affiliate_id, cast(clicked_at as date) as day,"
        " count(*) as clicks from marts.clicks group by all"
    )

    shown: list[str] = []
    before, after = None, None
    for _ in range(10):
        page = queries.recent_clicks(con, "kenji", before, size=25, after=after)
        shown += [row["click_id"] for row in page.rows]
        if page.older is None:
            break
        before, after = page.older, page.older_after

    assert sorted(shown) == sorted(f"c{n:03d}" for n in range(61))
    assert len(shown) == 61  # none twice
