"""The pipeline benchmark's baseline: the core of `attro run` as one hand-written DuckDB SQL script.

Over the same landing files: read the NDJSON with read_json, keep each event and click once, key
payments (the invoice for a subscription payment, else the PaymentIntent, else the charge; a basil
subscription charge naming no invoice matched by customer, amount and time), take the click id from
metadata / client_reference_id / subscription metadata (renewals inherit their subscription's),
join clicks inside a 60-day window and pay 20 %. Results go into a fresh DuckDB file. It has no
incremental mode: every run reads everything. Prints its counts as JSON.

With --keep-raw it also does what attro's design asks beyond that core: every landed line, payload
and all, is first kept in zstd Parquet files beside the output (as raw.* is in the lake, where each
id is kept once; here that happens when they are read), and the same SQL then reads those files
instead of the NDJSON. A reference for what keeping the source of truth costs, not issue 12's
baseline.

    python -m benchmarks.pipeline_baseline DATA_DIR OUT.duckdb [--memory-limit 1GB] [--keep-raw]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb
import polars as pl

from core.contracts import LANDED_RECORDS, PRIMARY_KEYS

FIELDS = {  # column → JSON path in the event
    "obj_id": "$.data.object.id",
    "invoice": "$.data.object.invoice",
    "payment_intent": "$.data.object.payment_intent",
    "pay_pi": "$.data.object.payment.payment_intent",
    "subscription": "$.data.object.subscription",
    "parent_subscription": "$.data.object.parent.subscription_details.subscription",
    "customer": "$.data.object.customer",
    "currency": "$.data.object.currency",
    "amount": "$.data.object.amount",
    "amount_paid": "$.data.object.amount_paid",
    "amount_total": "$.data.object.amount_total",
    "payment_status": "$.data.object.payment_status",
    "paid_at": "$.data.object.status_transitions.paid_at",
    "metadata_click": "$.data.object.metadata.rd_click_id",
    "client_reference_id": "$.data.object.client_reference_id",
    "details_click": "$.data.object.subscription_details.metadata.rd_click_id",
    "parent_click": "$.data.object.parent.subscription_details.metadata.rd_click_id",
    "line_click": "$.data.object.lines.data[0].metadata.rd_click_id",
}
PAYMENT_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice_payment.paid",
    "charge.succeeded",
    "payment_intent.succeeded",
)
WINDOW_DAYS = 60
PERCENT = 20


_DUCKDB_TYPES = {pl.String: "VARCHAR", pl.Boolean: "BOOLEAN", pl.Int64: "BIGINT"}


def _landed(landing: Path, stream: str, names: tuple[str, ...] | None = None) -> str:
    """A stream's landing files as rows, with `names` of its landed fields (all when None)."""
    fields = LANDED_RECORDS[stream]
    columns = ", ".join(f"{name}: '{_DUCKDB_TYPES[fields[name]]}'" for name in names or fields)
    return (
        f"read_json('{landing}/{stream}/*/*.ndjson', format = 'newline_delimited', columns = {{{columns}}},"
        " hive_partitioning = false)"  # not the date=... folder as a column
    )


def _once(stream: str) -> str:
    """Keep each id's first landed record (what attro's raw keeps)."""
    return f"qualify row_number() over (partition by {PRIMARY_KEYS[stream]} order by received_at) = 1"


def keep_raw_sql(landing: Path, raw_dir: Path) -> list[str]:
    """Every landed record, payload and all, into one zstd Parquet file per stream (ids kept once when
    read, as without --keep-raw: keeping them once here moved every payload, 2.3x the time and 5 GB).
    Row groups of at most 64 MB: DuckDB's default (122,880 rows) is 430 MB of payloads per thread."""
    return [
        f"copy (select * from {_landed(landing, stream)}) to '{raw_dir / stream}.parquet'"
        " (format parquet, compression zstd, row_group_size_bytes '64MB')"
        for stream in LANDED_RECORDS
    ]


def _events_sql(source: str, dedupe: bool) -> str:
    paths = ", ".join(f"'{path}'" for path in FIELDS.values())
    columns = ",\n        ".join(f"f[{i}] as {name}" for i, name in enumerate(FIELDS, start=1))
    types = ", ".join(f"'{t}'" for t in PAYMENT_EVENTS)
    return f"""
create table events as
with landed as (
    select event_id, event_type, created, received_at, json_extract_string(payload, [{paths}]) as f
    from {source}
    where event_type in ({types})
)
select event_id, event_type, split_part(event_type, '.', 1) as kind, created,
        {columns}
from landed
{_once("stripe_events") if dedupe else ""}
"""


def _clicks_sql(source: str, dedupe: bool) -> str:
    return f"""
create table clicks as
select click_id, cast(clicked_at as timestamptz) as clicked_at, link_code, affiliate_id, offer_id, is_bot
from {source}
{_once("clicks") if dedupe else ""}
"""


EVENT_FIELDS = ("event_id", "event_type", "created", "received_at", "payload")
CLICK_FIELDS = ("click_id", "clicked_at", "received_at", "link_code", "affiliate_id", "offer_id", "is_bot")


PAYMENTS_SQL = """
-- PaymentIntent → invoice, from legacy invoices and charges and from invoice_payment.paid
create temp table pi_invoice as
select distinct pi, invoice from (
    select payment_intent as pi, obj_id as invoice from events
        where kind = 'invoice' and payment_intent notnull
    union all select payment_intent, invoice from events where kind = 'charge' and invoice notnull
        and payment_intent notnull
    union all select pay_pi, invoice from events where kind = 'invoice_payment'
);

create temp table observations as
select e.*,
    case when e.kind = 'invoice' then e.obj_id
         when e.kind = 'invoice_payment' then e.invoice
         else coalesce(e.invoice, l.invoice, e.payment_intent,
                       case when e.kind = 'payment_intent' then e.obj_id end, e.obj_id) end as key,
    coalesce(e.subscription, e.parent_subscription) as subscription_id,
    case when e.kind = 'invoice' then cast(e.amount_paid as bigint)
         when e.kind = 'checkout' then cast(e.amount_total as bigint)
         else cast(e.amount as bigint) end as amount_minor,
    (e.kind = 'invoice' and cast(e.amount_paid as bigint) > 0) or e.kind in ('charge', 'payment_intent')
        or (e.kind = 'checkout' and e.payment_status = 'paid') as confirms
from events e left join pi_invoice l
    on l.pi = coalesce(e.payment_intent, case when e.kind = 'payment_intent' then e.obj_id end);

-- a basil subscription charge naming no invoice: the invoice of that customer, amount and currency
-- paid within 15 minutes
create temp table matched as
with loose as (
    select key, any_value(customer) as customer, any_value(currency) as currency,
        max(amount_minor) as amount_minor, min(created) as created
    from observations where key like 'pi_%' group by key
    having count(*) filter (kind = 'checkout') = 0
),
invoices as (
    select obj_id as invoice, customer, currency, cast(amount_paid as bigint) as amount_minor,
        cast(paid_at as bigint) as paid_at
    from observations
    where kind = 'invoice' and cast(amount_paid as bigint) > 0
        and obj_id not in (select invoice from pi_invoice)
)
select loose.key, invoices.invoice
from loose join invoices using (customer, currency, amount_minor)
where abs(invoices.paid_at - loose.created) <= 900
qualify row_number() over (partition by loose.key order by abs(invoices.paid_at - loose.created)) = 1;

create table payments as
select coalesce(m.invoice, o.key) as payment_id,
    to_timestamp(min(o.created)) as occurred_at,
    max(o.amount_minor) filter (o.confirms) as amount_minor,
    any_value(o.currency) as currency,
    any_value(o.customer) as customer_id,
    max(o.subscription_id) as subscription_id,
    coalesce(max(o.metadata_click), max(o.client_reference_id), max(o.parent_click), max(o.details_click),
             max(o.line_click)) as click_id
from observations o left join matched m using (key)
group by payment_id
having bool_or(o.confirms);
"""

ATTRIBUTION_SQL = f"""
create table subscriptions as
select subscription_id, min(occurred_at) as first_paid_at,
    arg_min(click_id, occurred_at) filter (click_id notnull) as click_id
from payments where subscription_id notnull group by subscription_id;

create table conversions as
with attributable as (
    select p.*, coalesce(s.click_id, p.click_id) as attributed_click,
        coalesce(s.first_paid_at, p.occurred_at) as first_paid_at
    from payments p left join subscriptions s using (subscription_id)
)
select a.payment_id, a.attributed_click as click_id, c.affiliate_id, c.offer_id, a.occurred_at,
    a.amount_minor, a.currency, round(a.amount_minor * {PERCENT} / 100.0) as commission_minor
from attributable a join clicks c on c.click_id = a.attributed_click
where not c.is_bot and c.clicked_at <= a.first_paid_at
    and c.clicked_at >= a.first_paid_at - interval {WINDOW_DAYS} days;

create table unattributed_payments as
select p.payment_id, case when p.click_id is null then 'no_click_id' else 'no_valid_click' end as reason
from payments p anti join conversions using (payment_id);
"""


def raw_dir(out: Path) -> Path:
    """Where --keep-raw keeps the landed records: beside the output file."""
    return out.parent / "raw"


def run(data_dir: Path, out: Path, memory_limit: str, keep_raw: bool = False) -> dict[str, int]:
    out.unlink(missing_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    landing = data_dir / "landing"
    with duckdb.connect(str(out)) as con:
        con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute(f"set temp_directory = '{out.parent / 'duckdb-tmp'}'")
        con.execute("set preserve_insertion_order = false")
        con.execute("set timezone = 'UTC'")
        if keep_raw:
            raw = raw_dir(out)
            raw.mkdir(parents=True, exist_ok=True)
            for statement in keep_raw_sql(landing, raw):
                con.execute(statement)
            con.execute(_events_sql(f"read_parquet('{raw}/stripe_events.parquet')", dedupe=True))
            con.execute(_clicks_sql(f"read_parquet('{raw}/clicks.parquet')", dedupe=True))
        else:
            con.execute(_events_sql(_landed(landing, "stripe_events", EVENT_FIELDS), dedupe=True))
            con.execute(_clicks_sql(_landed(landing, "clicks", CLICK_FIELDS), dedupe=True))
        con.execute(PAYMENTS_SQL)
        con.execute(ATTRIBUTION_SQL)
        tables = ("events", "clicks", "payments", "conversions", "unattributed_payments")
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}  # type: ignore[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--keep-raw", action="store_true", help="keep every landed record in Parquet first")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.data_dir, args.out, args.memory_limit, args.keep_raw)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
