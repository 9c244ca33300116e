"""Dagster assets: thin shells that load raw tables with dlt, build the marts with the models, publish."""

from __future__ import annotations

import dagster as dg
import polars as pl

from core.contracts import MARTS, OFFER, OFFER_TIER, RAW_CLICK, RAW_EVENT
from core.state.closed_periods import closed_at, load_closed
from models.marts import MartInputs, build_marts
from pipelines.exports import export_commissions
from pipelines.lib.loading import load_landing, load_program
from pipelines.lib.warehouse import connect, publish, read_table, write_tables
from pipelines.resources import AttroResource


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


MART_DESCRIPTIONS = {
    "clicks": "One row per click: link, affiliate, offer, hashed IP, user agent, UTM, bot flag.",
    "payments": "One row per real money movement, whichever events reported it, with its click id.",
    "payment_adjustments": "Refunds, disputes and dispute reversals (negative amounts take money back).",
    "rejected_events": "Stripe events whose payload does not fit the shape the rules read, with the reason.",
    "conversions": "Attributed payments: click, affiliate, offer, payment number, commission and its rule.",
    "unattributed_payments": "Payments no affiliate gets, with the reason (no_click_id, click_expired, ...).",
    "commission_lines": "The commission ledger: one signed line per commission, reversal or reinstatement.",
    "affiliate_statements": "Per period, affiliate and currency: gross, reversals, net, payable, pending.",
}
MART_KEYS = [["marts", name] for name in MARTS]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["marts", name],
            deps=[raw_stripe_events.key, raw_clicks.key, ["program", "offers"], ["program", "offer_tiers"]],
            description=MART_DESCRIPTIONS[name],
            group_name="marts",
            kinds={"polars", "duckdb"},
        )
        for name in MARTS
    ],
)
def marts(attro: AttroResource):
    """Every mart from raw and program tables in one pass of the rules (models.marts.build_marts)."""
    settings = attro.settings
    with connect(settings) as con:
        inputs = MartInputs(
            events=read_table(con, "raw.stripe_events", RAW_EVENT),
            clicks=read_table(con, "raw.clicks", RAW_CLICK),
            offers=read_table(con, "program.offers", OFFER),
            tiers=read_table(con, "program.offer_tiers", OFFER_TIER),
            now=attro.now(),
            closed=load_closed(settings),
        )
        built = build_marts(inputs)
        write_tables(con, {f"marts.{name}": frame for name, frame in built.tables().items()})
    for name, frame in built.tables().items():
        yield dg.MaterializeResult(asset_key=["marts", name], metadata=_mart_metadata(name, frame, inputs))


def _mart_metadata(name: str, frame: pl.DataFrame, inputs: MartInputs) -> dict[str, int | str]:
    metadata: dict[str, int | str] = {"rows": frame.height}
    if name in ("rejected_events", "unattributed_payments"):
        for reason, count in frame.group_by("reason").len().sort("reason").rows():
            metadata[f"reason: {reason}"] = count
    if name == "commission_lines":
        metadata["closed_periods"] = len(inputs.closed.periods)
        metadata["carried_forward_lines"] = frame.filter(pl.col("carried_from_period").is_not_null()).height
    return metadata


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
    marts,
    warehouse_snapshot,
    last_closed_period_export,
]
