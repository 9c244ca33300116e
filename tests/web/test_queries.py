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


def test_a_frozen_held_line_with_one_flag_rejected_and_another_open_is_rejected_not_held() -> None:
    # Review: a rejection voids the attribution's lines whatever other flag is still open (the ledger
    # does so); the pages counted such a line both held and rejected, and hid the month's "released".
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.risk_flags as select * from (values ('rf_ok', 'c1', 'approved'),"
        " ('rf_no', 'c2', 'rejected'), ('rf_open', 'c2', 'open')) t(flag_id, conversion_id, decision)"
    )
    con.execute(
        "create table marts.conversions as select * from (values ('c1', 'a1'), ('c2', 'a2'))"
        " t(conversion_id, attribution_id)"
    )
    con.execute(
        "create table marts.commission_lines as select conversion_id, conversion_id || ':commission' as"
        " line_id, 'commission' as kind, 'a rule' as rule, amount_minor, 'usd' as currency,"
        " timestamptz '2026-02-02 00:00:00+00' as earned_at, date '2026-03-04' as payable_on,"
        " '2026-02' as period, 'held' as status, null::varchar as carried_from_period, true as livemode,"
        " 'jane' as affiliate_id from (values ('c1', 1000), ('c2', 2000)) t(conversion_id, amount_minor)"
    )
    con.execute(
        "create table marts.affiliate_statements as select '2026-02' as period, 'jane' as affiliate_id,"
        " 'usd' as currency, 3000 as held_minor"
    )
    for column in queries._STATEMENT_COLUMNS.replace(" ", "").split(","):
        if column not in ("period", "affiliate_id", "currency", "held_minor"):
            con.execute(f"alter table marts.affiliate_statements add column {column} bigint")

    lines = queries.lines_of(con, ["c1", "c2"])
    (statement,) = queries.statements(con, "2026-02")

    assert [(line["released_since"], line["rejected_since"]) for line in lines["c1"] + lines["c2"]] == [
        (True, False),
        (False, True),
    ]
    assert (statement["held_now_minor"], statement["held_rejected_minor"]) == (0, 2000)
