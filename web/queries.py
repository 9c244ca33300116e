"""The pages' queries: filtered, paged SQL on the published warehouse, a page of rows at a time.

Every filter is a bound parameter and every list a LIMIT/OFFSET page (one row more than shown tells
whether there is a next page), so no page reads a whole table into Python. The portal calls the same
functions with its affiliate fixed: its filter is in the SQL, never left to a template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import duckdb

from core.contracts import DECIDED_FLAG
from web.warehouse import rows, value

PAGE_SIZE = 25
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$", re.ASCII)
LINE_STATUSES = ("pending", "approved", "held", "void")
CONVERSION_STATUSES = (*LINE_STATUSES, "not_commissionable")


MAX_PAGE = 100_000  # pages asked for beyond it show this one: an OFFSET DuckDB can always hold


@dataclass(frozen=True)
class Page:
    number: int = 1
    size: int = PAGE_SIZE

    @classmethod
    def of(cls, number: int) -> Page:
        """The page a request asked for, kept within 1 … MAX_PAGE."""
        return cls(max(1, min(number, MAX_PAGE)))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


@dataclass
class Paged:
    rows: list[dict[str, Any]]
    page: Page
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page.number > 1


def _paged(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any], page: Page) -> Paged:
    found = rows(cur, f"{sql} limit ? offset ?", [*params, page.size + 1, page.offset])
    return Paged(found[: page.size], page, len(found) > page.size)


def month_bounds(month: str) -> tuple[datetime, datetime] | None:
    """[first instant, first instant of the next month) in UTC, for range filters DuckDB can prune;
    None for a month a datetime cannot hold (year 0000, or 9999-12 whose end is in year 10000)."""
    year, number = int(month[:4]), int(month[5:])
    try:
        start = datetime(year, number, 1, tzinfo=UTC)
        end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    except ValueError:
        return None
    return start, end


def _in_month(where: Where, column: str, month: str | None) -> None:
    """Rows of `month` only (YYYY-MM; anything else filters nothing); a month out of range has none."""
    if not month or not MONTH.fullmatch(month):
        return
    if bounds := month_bounds(month):
        where.add(f"{column} >= ? and {column} < ?", *bounds)
    else:
        where.add("false")


@dataclass
class Where:
    """AND-ed conditions with their parameters."""

    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, condition: str, *params: Any) -> None:
        self.parts.append(condition)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return " and ".join(self.parts) if self.parts else "true"


# -- conversions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversionFilter:
    affiliate: str | None = None
    offer: str | None = None
    month: str | None = None  # YYYY-MM of occurred_at
    status: str | None = None  # a ledger line status, or not_commissionable
    mode: str | None = None  # live | test (None: both)


def _conversion_where(f: ConversionFilter) -> Where:
    where = Where()
    if f.affiliate:
        where.add("c.affiliate_id = ?", f.affiliate)
    if f.offer:
        where.add("c.offer_id = ?", f.offer)
    _in_month(where, "c.occurred_at", f.month)
    if f.mode in ("live", "test"):
        where.add("c.livemode = ?", f.mode == "live")
    if f.status == "not_commissionable":
        where.add("not c.commissionable")
    elif f.status in LINE_STATUSES:
        where.add(
            "exists (select 1 from marts.commission_lines l"
            " where l.conversion_id = c.conversion_id and l.status = ?)",
            f.status,
        )
    return where


def conversions(cur: duckdb.DuckDBPyConnection, f: ConversionFilter, page: Page) -> Paged:
    """Conversions newest first, with their payment, how they were attributed and their ledger lines."""
    where = _conversion_where(f)
    found = _paged(
        cur,
        "select c.conversion_id, c.payment_id, c.occurred_at, c.affiliate_id, c.offer_id, c.link_code,"
        " c.click_id, c.conversion_type, c.payment_number, c.attribution_method,"
        " c.contested_by_affiliate_id, c.contested_by_method, c.amount_minor, c.tax_minor, c.currency,"
        " c.livemode, c.customer_id, c.subscription_id, c.billing_reason, c.commissionable,"
        " c.not_commissionable_reason, c.commission_minor, c.rule"
        f" from marts.conversions c where {where.sql} order by c.occurred_at desc, c.conversion_id",
        where.params,
        page,
    )
    lines = lines_of(cur, [r["conversion_id"] for r in found.rows])
    emails = customer_emails(cur, [r["payment_id"] for r in found.rows])
    for row in found.rows:
        row["lines"] = lines.get(row["conversion_id"], [])
        row["customer_email"] = emails.get(row["payment_id"])
    return found


def customer_emails(cur: duckdb.DuckDBPyConnection, payment_ids: list[str]) -> dict[str, str]:
    """The page's payments' customer emails (looked up for one page, not joined for the whole table)."""
    if not payment_ids:
        return {}
    return dict(
        cur.execute(
            "select payment_id, customer_email from marts.payments"
            " where payment_id in (select unnest(?)) and customer_email is not null",  # by its index
            [payment_ids],
        ).fetchall()
    )


def lines_of(cur: duckdb.DuckDBPyConnection, conversion_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each conversion's ledger lines, in the order they were earned."""
    if not conversion_ids:
        return {}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for line in rows(
        cur,
        "select conversion_id, line_id, kind, rule, amount_minor, currency, earned_at, payable_on, period,"
        " status, carried_from_period,"
        # frozen `held` when its month closed, no flag holding it since (approved, or its rule turned off:
        # a correction pays it; rejected: void)
        f" status = 'held' and not coalesce({_HELD_NOW}, false) and not ({_REJECTED}) as released_since,"
        f" status = 'held' and ({_REJECTED}) as rejected_since"
        " from marts.commission_lines"
        " where conversion_id in (select unnest(?)) order by earned_at, line_id",  # by its index
        [conversion_ids],
    ):
        grouped.setdefault(line["conversion_id"], []).append(line)
    return grouped


@dataclass(frozen=True)
class Choices:
    """What the filters offer: affiliates and offers of the program, months with conversions."""

    affiliates: list[str]
    offers: list[str]
    months: list[str]


def conversion_choices(cur: duckdb.DuckDBPyConnection) -> Choices:
    return Choices(
        [r[0] for r in cur.execute("select affiliate_id from program.affiliates order by 1").fetchall()],
        [r[0] for r in cur.execute("select distinct offer_id from program.offers order by 1").fetchall()],
        _months(cur, "marts.conversions", "occurred_at"),
    )


def _months(cur: duckdb.DuckDBPyConnection, table: str, column: str) -> list[str]:
    return [
        r[0]
        for r in cur.execute(
            f"select distinct strftime({column}, '%Y-%m') as m from {table} where {column} is not null"
            " order by m desc"
        ).fetchall()
    ]


# -- unattributed payments -------------------------------------------------------------------------


def unattributed(cur: duckdb.DuckDBPyConnection, reason: str | None, month: str | None, page: Page) -> Paged:
    where = Where()
    if reason:
        where.add("u.reason = ?", reason)
    _in_month(where, "u.occurred_at", month)
    found = _paged(
        cur,
        "select u.payment_id, u.occurred_at, u.livemode, u.customer_id, u.subscription_id, u.billing_reason,"
        " u.amount_minor, u.currency, u.click_id, u.reason, u.detail"
        f" from marts.unattributed_payments u where {where.sql} order by u.occurred_at desc, u.payment_id",
        where.params,
        page,
    )
    emails = customer_emails(cur, [r["payment_id"] for r in found.rows])
    for row in found.rows:
        row["customer_email"] = emails.get(row["payment_id"])
    return found


def unattributed_reasons(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return rows(
        cur,
        "select reason, count(*) as payments, count(*) filter (livemode) as live"
        " from marts.unattributed_payments group by reason order by payments desc, reason",
    )


def unattributed_months(cur: duckdb.DuckDBPyConnection) -> list[str]:
    return _months(cur, "marts.unattributed_payments", "occurred_at")


# -- risk review -----------------------------------------------------------------------------------


# A live line a flag still open holds (models/risk.py held_for_review): a closed month's line frozen as
# `held` whose flag has since been decided holds nothing (approved: owed in an open month's correction).
# A line of an attribution a reviewer rejected (the ledger voids it; a closed month's frozen `held`
# line stays so).
_REJECTED = (
    "conversion_id in (select c.conversion_id from marts.conversions c"
    " where c.attribution_id in (select fc.attribution_id from marts.risk_flags f"
    " join marts.conversions fc using (conversion_id) where f.decision = 'rejected'))"
)
_HELD_NOW = (
    "status = 'held' and livemode and conversion_id in (select c.conversion_id from marts.conversions c"
    " where c.attribution_id in (select fc.attribution_id from marts.risk_flags f"
    " join marts.conversions fc using (conversion_id) where f.decision = 'open'))"
    f" and not ({_REJECTED})"  # a rejection voids it, whatever other flag is still open
)


def risk_flags(cur: duckdb.DuckDBPyConnection, only_open: bool, page: Page) -> Paged:
    where = Where()
    if only_open:
        where.add("f.decision = 'open'")
    return _paged(
        cur,
        "select f.flag_id, f.rule, f.detail, f.affiliate_id, f.conversion_id, f.click_id, f.detected_at,"
        " f.decision, f.decided_at, f.note, c.amount_minor, c.currency, c.payment_id,"
        # what the flag holds: every held line of its attribution (the sale and its renewals), while open
        " (select sum(l.amount_minor) from marts.commission_lines l join marts.conversions lc"
        "   using (conversion_id) where lc.attribution_id = c.attribution_id and l.status = 'held'"
        "   and f.decision = 'open') as held_minor"
        " from marts.risk_flags f left join marts.conversions c using (conversion_id)"
        f" where {where.sql} order by f.detected_at, f.flag_id",
        where.params,
        page,
    )


def risk_flag(cur: duckdb.DuckDBPyConnection, flag_id: str) -> dict[str, Any] | None:
    """The flag as decisions keep it (core.contracts.DECIDED_FLAG), with its decision."""
    found = rows(
        cur,
        f"select flag_id, decision, {', '.join(DECIDED_FLAG)} from marts.risk_flags where flag_id = ?",
        [flag_id],
    )
    return found[0] if found else None


def open_flag_count(cur: duckdb.DuckDBPyConnection) -> int:
    return int(value(cur, "select count(*) from marts.risk_flags where decision = 'open'") or 0)


# -- affiliates and statements ---------------------------------------------------------------------


def affiliates(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Each affiliate of the program with its links and its statements' totals, per currency."""
    found = rows(
        cur,
        "select a.affiliate_id, a.name, a.email, a.status, a.banned_from,"
        " (select string_agg(link_code, ', ' order by link_code) from program.links l"
        "   where l.affiliate_id = a.affiliate_id) as links"
        " from program.affiliates a order by a.affiliate_id",
    )
    totals: dict[str, list[dict[str, Any]]] = {}
    for row in rows(
        cur,
        "select affiliate_id, currency, sum(net_minor) as net_minor, sum(payable_minor) as payable_minor,"
        # what the latest statement in the currency carries on: a debt, or less than the minimum payout
        " arg_max(carried_forward_minor, period) as carried_forward_minor,"
        " coalesce(any_value(held.held_minor), 0) as held_minor from marts.affiliate_statements"
        " left join (select affiliate_id, currency, sum(amount_minor) as held_minor"
        f"  from marts.commission_lines where {_HELD_NOW} group by all) held using (affiliate_id, currency)"
        " group by all order by all",
    ):
        totals.setdefault(row["affiliate_id"], []).append(row)
    for row in found:
        row["totals"] = totals.get(row["affiliate_id"], [])
    return found


def affiliate_exists(cur: duckdb.DuckDBPyConnection, affiliate_id: str) -> bool:
    return bool(value(cur, "select count(*) from program.affiliates where affiliate_id = ?", [affiliate_id]))


_STATEMENT_COLUMNS = (
    "period, affiliate_id, currency, opening_balance_minor, gross_minor, reversals_minor,"
    " reinstatements_minor, net_minor, closing_balance_minor, payable_minor, carried_forward_minor,"
    " approved_minor, pending_minor, held_minor, line_count, closed_at"
)


def statements(
    cur: duckdb.DuckDBPyConnection, period: str | None = None, affiliate: str | None = None
) -> list[dict[str, Any]]:
    """Statement rows (one per period, affiliate and currency), newest period first, each with what of
    its held amount a flag still open holds (`held_now_minor`: less than `held_minor` in a closed month
    whose held lines were released or rejected since) and a rejection voids (`held_rejected_minor`)."""
    where = Where()
    if period:
        where.add("period = ?", period)
    if affiliate:
        where.add("affiliate_id = ?", affiliate)
    return rows(
        cur,
        f"select {_STATEMENT_COLUMNS}, coalesce(h.held_now_minor, 0) as held_now_minor,"
        " coalesce(h.held_rejected_minor, 0) as held_rejected_minor"
        " from marts.affiliate_statements left join (select period, affiliate_id, currency,"
        f" sum(amount_minor) filter ({_HELD_NOW}) as held_now_minor,"
        f" sum(amount_minor) filter (status = 'held' and livemode and {_REJECTED}) as held_rejected_minor"
        " from marts.commission_lines group by all) h"
        f" using (period, affiliate_id, currency) where {where.sql}"
        " order by period desc, affiliate_id, currency",
        where.params,
    )


def periods(cur: duckdb.DuckDBPyConnection, affiliate: str | None = None) -> list[str]:
    where = Where()
    if affiliate:
        where.add("affiliate_id = ?", affiliate)
    return [
        r[0]
        for r in cur.execute(
            f"select distinct period from marts.affiliate_statements where {where.sql} order by 1 desc",
            where.params,
        ).fetchall()
    ]


# -- the portal's own views of one affiliate ------------------------------------------------------


def earnings_by_month(cur: duckdb.DuckDBPyConnection, affiliate: str) -> list[dict[str, Any]]:
    """Live commission per month and currency, split by line status. The total is what the month's
    statement nets (pending and approved: held money counts only once released, in the month that
    releases it); sales are the month's own sales, not corrections carried into it."""
    return rows(
        cur,
        "select period, currency,"
        " sum(amount_minor) filter (status = 'pending') as pending_minor,"
        " sum(amount_minor) filter (status = 'approved') as approved_minor,"
        f" sum(amount_minor) filter ({_HELD_NOW}) as held_minor,"
        " sum(amount_minor) filter (status in ('pending', 'approved')) as total_minor,"
        " count(*) filter (kind = 'commission' and status <> 'void' and carried_from_period is null)"
        " as commissions"
        " from marts.commission_lines where affiliate_id = ? and livemode"
        " group by all order by period desc, currency",
        [affiliate],
    )


def clicks_by_month(cur: duckdb.DuckDBPyConnection, affiliate: str) -> list[dict[str, Any]]:
    """Clicks (not bots), sign-ups and new customers per month, from the daily funnel (a small table,
    where counting marts.clicks would scan the lake)."""
    return rows(
        cur,
        "select strftime(day, '%Y-%m') as month, sum(clicks) as clicks, sum(leads) as leads,"
        " sum(new_customers) as new_customers from marts.funnel_daily where affiliate_id = ?"
        " group by all order by month desc",
        [affiliate],
    )


CLICK_WINDOW = timedelta(days=31)


@dataclass
class ClickWindow:
    """A page of an affiliate's clicks, newest first, no older than `since`: marts.clicks is a view
    over the lake's Parquet files, and a time range lets DuckDB skip the row groups outside it
    (a page over all of a large affiliate's clicks scanned every file: 200 ms at 330k clicks)."""

    rows: list[dict[str, Any]]
    before: datetime | None
    since: datetime | None
    older: datetime | None  # `before` of the next page; None when there is nothing older
    older_after: str | None = None  # ... and its `after`: the last click shown at that very time


def recent_clicks(
    cur: duckdb.DuckDBPyConnection,
    affiliate: str,
    before: datetime | None,
    size: int = PAGE_SIZE * 2,
    after: str | None = None,
) -> ClickWindow:
    """A page of clicks older than `before` — and, with `after`, those at `before` itself that sort
    after that click id (clicks share a time to the second in imported edge logs: a page may end
    inside such a group, and the next one goes on from the click it ended with)."""
    first_day, last_day = cur.execute(
        "select min(day), max(day) from marts.funnel_daily where affiliate_id = ? and clicks > 0",
        [affiliate],
    ).fetchone() or (None, None)
    if last_day is None:
        return ClickWindow([], None, None, None)
    first = datetime.combine(first_day, time(), UTC)
    before = before or datetime.combine(last_day, time(), UTC) + timedelta(days=1)
    if before <= first:  # nothing older (and a `before` near year 1 would overflow the window below)
        return ClickWindow([], before, None, None)
    since = before - CLICK_WINDOW
    found = rows(
        cur,
        "select clicked_at, click_id, link_code, utm_source, utm_medium, utm_campaign, referer, is_bot"
        " from marts.clicks where affiliate_id = ? and clicked_at <= ? and clicked_at >= ?"
        " and (clicked_at < ? or click_id > ?)"
        " order by clicked_at desc, click_id limit ?",
        [affiliate, before, since, before, after, size + 1],
    )
    if len(found) > size:
        last = found[size - 1]
        return ClickWindow(found[:size], before, since, last["clicked_at"], last["click_id"])
    return ClickWindow(found, before, since, since if since > first else None)


def mask_customer(customer_id: str | None) -> str:
    """What the portal shows of a customer: `cus_…1234`, never an email or the whole id."""
    if not customer_id:
        return "—"
    prefix = customer_id.split("_", 1)[0] + "_" if "_" in customer_id else ""
    return f"{prefix}…{customer_id[-4:]}"


# -- health ------------------------------------------------------------------------------------------


def health_counts(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What the published warehouse says about the pipeline's inputs: open flags per rule and the
    events and landing lines it quarantined."""
    return {
        "open_flags": rows(
            cur,
            "select rule, count(*) as flags from marts.risk_flags where decision = 'open'"
            " group by rule order by flags desc, rule",
        ),
        "rejected_events": rows(
            cur,
            "select regexp_replace(reason, '[:(].*$', '') as reason, count(*) as events"
            " from marts.rejected_events group by all order by events desc limit 20",
        ),
        "landing_rejects": int(value(cur, "select count(*) from raw.landing_rejects") or 0),
    }
