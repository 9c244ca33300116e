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


def test_a_flag_holds_its_sale_and_every_renewal_while_open_and_nothing_once_decided() -> None:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.risk_flags as select * from (values"
        " ('rf_open', 'self_referral', 'cv_1', 'open'), ('rf_done', 'too_fast', 'cv_9', 'approved'))"
        " t(flag_id, rule, conversion_id, decision)"
    )
    con.execute(
        "alter table marts.risk_flags add column detail varchar; alter table marts.risk_flags add column"
        " affiliate_id varchar; alter table marts.risk_flags add column click_id varchar;"
        " alter table marts.risk_flags add column detected_at timestamptz;"
        " alter table marts.risk_flags add column decided_at timestamptz;"
        " alter table marts.risk_flags add column note varchar"
    )
    con.execute(  # a subscription (cv_1 and its renewals) and a one-time sale (cv_9)
        "create table marts.conversions as select * from (values ('cv_1', 'at_1'), ('cv_2', 'at_1'),"
        " ('cv_3', 'at_1'), ('cv_9', 'at_9')) t(conversion_id, attribution_id)"
    )
    for column in ("amount_minor bigint", "currency varchar", "payment_id varchar"):
        con.execute(f"alter table marts.conversions add column {column}")
    con.execute(
        "create table marts.commission_lines as select * from (values ('cv_1', 'held', 1980),"
        " ('cv_2', 'held', 1980), ('cv_3', 'held', 1980), ('cv_9', 'held', 500))"
        " t(conversion_id, status, amount_minor)"
    )

    flags = {f["flag_id"]: f["held_minor"] for f in queries.risk_flags(con, False, queries.Page()).rows}

    assert flags == {"rf_open": 3 * 1980, "rf_done": None}  # cv_9's line: a closed month froze it held
