"""Dagster assets: thin shells that load raw tables with dlt and build marts with the models."""

from __future__ import annotations

import dagster as dg
import polars as pl

from attro.exports import export_commissions
from attro.periods import closed_at, load_closed
from models.adjustments import ADJUSTMENT_SCHEMA, build_adjustments
from models.attribution import attribute
from models.clicks import CLICK_SCHEMA, build_clicks
from models.commissions import OFFER_SCHEMA, TIER_SCHEMA, evaluate_conversions
from models.events import RAW_EVENT_SCHEMA, payment_observations
from models.ledger import build_ledger
from models.payments import PAYMENT_SCHEMA, build_payments
from models.statements import affiliate_statements
from pipelines.lib.loading import load_landing, load_program
from pipelines.lib.warehouse import connect, publish, read_table, write_tables
from pipelines.resources import AttroResource

RAW_CLICK_SCHEMA = {**CLICK_SCHEMA, "received_at": pl.Datetime("us", "UTC")}


def _counts(**frames: pl.DataFrame) -> dict[str, int]:
    return {f"{name}_rows": frame.height for name, frame in frames.items()}


def _landed(stream: str, new_label: str, attro: AttroResource) -> dg.MaterializeResult:
    stats = load_landing(attro.settings, (stream,))[stream]
    return dg.MaterializeResult(
        metadata={
            new_label: stats["new"],
            "records_read": stats["records"],
            "rejected_lines": stats["rejected_lines"],
            "torn_lines_waiting": stats.get("torn_lines_waiting", 0),
        }
    )


@dg.asset(key=["raw", "stripe_events"], group_name="raw", kinds={"dlt", "duckdb"})
def raw_stripe_events(attro: AttroResource) -> dg.MaterializeResult:
    """Verified Stripe events as landed, one row per event id, the event JSON whole in `payload`."""
    return _landed("stripe_events", "new_events", attro)


@dg.asset(key=["raw", "clicks"], group_name="raw", kinds={"dlt", "duckdb"})
def raw_clicks(attro: AttroResource) -> dg.MaterializeResult:
    """Tracking-link clicks as landed (redirects and the bulk API), one row per click id."""
    return _landed("clicks", "new_clicks", attro)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["program", name], group_name="program", kinds={"dlt", "duckdb"})
        for name in ("affiliates", "links", "offers", "offer_tiers")
    ],
)
def program_tables(attro: AttroResource) -> dg.MaterializeResult:
    """The program file (affiliates, tracking links, offers), replaced whole on every run."""
    counts = load_program(attro.settings, attro.program())
    for name in ("affiliates", "links", "offers", "offer_tiers"):
        yield dg.MaterializeResult(asset_key=["program", name], metadata={"rows": counts[name]})


@dg.asset(key=["marts", "clicks"], deps=[raw_clicks.key], group_name="marts", kinds={"polars", "duckdb"})
def clicks_mart(attro: AttroResource) -> dg.MaterializeResult:
    """One row per click: link, affiliate, offer, hashed IP, user agent, UTM, bot flag."""
    with connect(attro.settings) as con:
        clicks = build_clicks(read_table(con, "raw.clicks", RAW_CLICK_SCHEMA))
        write_tables(con, {"marts.clicks": clicks})
    return dg.MaterializeResult(metadata=_counts(clicks=clicks))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["marts", name], deps=[raw_stripe_events.key], group_name="marts", kinds={"polars"})
        for name in ("payments", "payment_adjustments", "rejected_events")
    ],
)
def payments_mart(attro: AttroResource):
    """One row per real payment and per refund/dispute; events that do not fit are rejected, with a reason."""
    with connect(attro.settings) as con:
        events = read_table(con, "raw.stripe_events", RAW_EVENT_SCHEMA)
        observations, rejected = payment_observations(events)
        payments = build_payments(observations)
        adjustments, rejected_adjustments = build_adjustments(events, payments)
        rejected = pl.concat([rejected, rejected_adjustments]).sort("event_id")
        write_tables(
            con,
            {
                "marts.payments": payments,
                "marts.payment_adjustments": adjustments,
                "marts.rejected_events": rejected,
            },
        )
    reasons = rejected.group_by("reason").len().sort("reason").rows()
    yield dg.MaterializeResult(asset_key=["marts", "payments"], metadata=_counts(payments=payments))
    yield dg.MaterializeResult(
        asset_key=["marts", "payment_adjustments"], metadata=_counts(adjustments=adjustments)
    )
    yield dg.MaterializeResult(
        asset_key=["marts", "rejected_events"],
        metadata={**_counts(rejected=rejected), **{f"reason: {r}": n for r, n in reasons}},
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["marts", name],
            deps=[
                ["marts", "payments"],
                ["marts", "clicks"],
                ["program", "offers"],
                ["program", "offer_tiers"],
            ],
            group_name="marts",
            kinds={"polars"},
        )
        for name in ("conversions", "unattributed_payments")
    ],
)
def attribution_marts(attro: AttroResource):
    """Attributed payments (conversions, with commissionability) and unattributed ones with a reason."""
    with connect(attro.settings) as con:
        offers = read_table(con, "program.offers", OFFER_SCHEMA)
        conversions, unattributed = attribute(
            read_table(con, "marts.payments"), read_table(con, "marts.clicks", CLICK_SCHEMA), offers
        )
        evaluated = evaluate_conversions(
            conversions, offers, read_table(con, "program.offer_tiers", TIER_SCHEMA)
        )
        write_tables(con, {"marts.conversions": evaluated, "marts.unattributed_payments": unattributed})
    reasons = unattributed.group_by("reason").len().sort("reason").rows()
    yield dg.MaterializeResult(asset_key=["marts", "conversions"], metadata=_counts(conversions=evaluated))
    yield dg.MaterializeResult(
        asset_key=["marts", "unattributed_payments"],
        metadata={**_counts(unattributed=unattributed), **{f"reason_{r}": n for r, n in reasons}},
    )


@dg.asset(
    key=["marts", "commission_lines"],
    deps=[["marts", "conversions"], ["marts", "payment_adjustments"]],
    group_name="marts",
    kinds={"polars"},
)
def commission_lines_mart(attro: AttroResource) -> dg.MaterializeResult:
    """The commission ledger: one signed line per commission, reversal or reinstatement."""
    now = attro.now()
    with connect(attro.settings) as con:
        closed = load_closed(attro.settings)
        lines = build_ledger(
            read_table(con, "marts.conversions"),
            read_table(con, "marts.payment_adjustments", ADJUSTMENT_SCHEMA),
            read_table(con, "marts.payments", PAYMENT_SCHEMA),
            closed.lines,
            closed.periods,
            now,
        )
        write_tables(con, {"marts.commission_lines": lines})
    carried = lines.filter(pl.col("carried_from_period").is_not_null()).height
    return dg.MaterializeResult(
        metadata={
            **_counts(lines=lines),
            "closed_periods": len(closed.periods),
            "carried_forward_lines": carried,
        }
    )


@dg.asset(
    key=["marts", "affiliate_statements"],
    deps=[["marts", "commission_lines"]],
    group_name="marts",
    kinds={"polars"},
)
def affiliate_statements_mart(attro: AttroResource) -> dg.MaterializeResult:
    """Per period, affiliate and currency: gross, reversals, net, approved and pending."""
    with connect(attro.settings) as con:
        closed = load_closed(attro.settings)
        statements = affiliate_statements(
            read_table(con, "marts.commission_lines"), closed.statements, closed.closed_at
        )
        write_tables(con, {"marts.affiliate_statements": statements})
    return dg.MaterializeResult(metadata=_counts(statements=statements))


MART_KEYS = [
    ["marts", "clicks"],
    ["marts", "payments"],
    ["marts", "payment_adjustments"],
    ["marts", "rejected_events"],
    ["marts", "conversions"],
    ["marts", "unattributed_payments"],
    ["marts", "commission_lines"],
    ["marts", "affiliate_statements"],
]


@dg.asset(
    key=["warehouse", "snapshot"],
    deps=[*MART_KEYS, ["program", "affiliates"], ["program", "links"]],
    group_name="publish",
    kinds={"duckdb"},
)
def warehouse_snapshot(attro: AttroResource) -> dg.MaterializeResult:
    """The published data/warehouse.duckdb analysts open read-only, replaced atomically."""
    path = publish(attro.settings)
    return dg.MaterializeResult(metadata={"path": str(path), "bytes": path.stat().st_size})


@dg.asset(
    key=["exports", "last_closed_period"],
    deps=[["warehouse", "snapshot"]],
    group_name="publish",
    kinds={"csv", "parquet", "xlsx"},
)
def last_closed_period_export(attro: AttroResource) -> dg.MaterializeResult:
    """Finance's export (CSV, Parquet, XLSX) of the most recently closed month; byte-identical reruns."""
    closed = closed_at(attro.settings)
    if not closed:
        return dg.MaterializeResult(metadata={"period": "none closed yet"})
    period = max(closed)
    files = [
        path
        for fmt in ("csv", "parquet", "xlsx")
        for path in export_commissions(attro.settings, period, fmt, now=attro.now()).files
    ]
    return dg.MaterializeResult(metadata={"period": period, "files": ", ".join(str(f) for f in files)})


ASSETS = [
    raw_stripe_events,
    raw_clicks,
    program_tables,
    clicks_mart,
    payments_mart,
    attribution_marts,
    commission_lines_mart,
    affiliate_statements_mart,
    warehouse_snapshot,
    last_closed_period_export,
]
