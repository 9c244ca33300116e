"""Dagster assets: thin shells over pipelines/steps.py, one stage each: raw → staging → program and marts →
publish → exports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import dagster as dg

from core.contracts import MARTS
from core.state.closed_periods import closed_at
from pipelines import freshness, steps
from pipelines.exports import export_commissions
from pipelines.resources import AttroResource
from pipelines.run import STEP_NAMES, root_cause

T = TypeVar("T")


def _step(stage: str, work: Callable[[], T]) -> T:
    """A stage's work; its failure in one line naming the stage and the real cause, as `attro run`
    says it (the traceback stays in the run's log), not a library's wall of text and advice."""
    try:
        return work()
    except Exception as exc:
        raise dg.Failure(f"{STEP_NAMES[stage]} failed: {root_cause(exc)}") from exc


def _results(metadata: dict[str, dict[str, Any]]) -> Iterator[dg.MaterializeResult]:
    for path, values in metadata.items():
        yield dg.MaterializeResult(asset_key=path.split("/"), metadata=values)


RAW = {
    "stripe_events": "Verified Stripe events as landed, the whole event in payload: one row per event id, "
    "or more for an id landed again earlier than the copy held (the warehouse's view shows one).",
    "clicks": "Tracking-link clicks as landed (redirects and the bulk API): one row per click id, or "
    "more for an id landed again earlier than the copy held (marts.clicks keeps one).",
    "landing_rejects": "Corrupt landing lines, quarantined with the file, offset and error.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["raw", name], description=text, group_name="raw", kinds={"dlt", "parquet"})
        for name, text in RAW.items()
    ],
)
def raw(attro: AttroResource) -> Iterator[dg.MaterializeResult]:
    """New landing lines loaded with dlt into the lake (Parquet), each landed record once."""
    inputs = freshness.fingerprint(attro.settings, attro.now())
    yield from _results(_step("raw", lambda: steps.start_raw(attro.settings, attro.runs, inputs)))


STAGING = {
    "stripe_objects": "Each consumed Stripe event decoded once: the typed fields the rules read.",
    "rejected_events": "Quarantine of staging: each event it could not decode into the fields the rules "
    "read, with the reason, as each load found it.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["staging", name],
            deps=[["raw", "stripe_events"]],
            description=text,
            group_name="staging",
            kinds={"duckdb", "parquet"},
        )
        for name, text in STAGING.items()
    ],
)
def staging(attro: AttroResource) -> Iterator[dg.MaterializeResult]:
    """Raw events not decoded yet, decoded (never again on later runs)."""
    yield from _results(_step("staging", lambda: steps.stage(attro.settings)))


PROGRAM = {
    "affiliates": "Affiliates from the program file.",
    "links": "Tracking links from the program file.",
    "codes": "Promotion codes that belong to an affiliate, from the program file.",
    "offers": "Offers from the program file, one row per version of their terms.",
    "offer_tiers": "Offer tiers (higher rates from N initial conversions a month), per offer version.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["program", name], description=text, group_name="program", kinds={"duckdb"})
        for name, text in PROGRAM.items()
    ],
)
def program(attro: AttroResource) -> Iterator[dg.MaterializeResult]:
    """The program file as tables, starting the next warehouse (the file is the truth)."""
    program = _step("program", attro.program)
    yield from _results(
        _step("program", lambda: steps.write_program(attro.settings, program, attro.now(), attro.runs))
    )


MART_DESCRIPTIONS = {
    "clicks": "One row per click: link, affiliate, offer, hashed IP, user agent, UTM, bot flag.",
    "payments": "One row per real money movement, whichever events reported it, with its click id.",
    "payment_adjustments": "Refunds, disputes and dispute reversals (negative amounts take money back).",
    "rejected_events": "Stripe events left out of every mart, one row per event id, with the reason staging "
    "gave: where a missing payment is explained.",
    "conversions": "Attributed payments: click, affiliate, offer, payment number, commission and its rule.",
    "unattributed_payments": "Payments no affiliate gets, with the reason (no_click_id, click_expired, ...).",
    "commission_lines": "The commission ledger: one signed line per commission, reversal or reinstatement.",
    "affiliate_statements": "Per period, affiliate and currency: gross, reversals, net, payable, held.",
    "risk_flags": "Suspicious sales and clicks (self-referral, paid traffic, ...), each open until reviewed.",
    "leads": "Customers created with a click id at sign-up, whose later payments the click's affiliate gets.",
    "funnel_daily": "Per day, affiliate, link and offer: clicks, leads, new customers, revenue, commission.",
}
MART_KEYS = [["marts", name] for name in MARTS]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["marts", name],
            deps=[*(["staging", s] for s in STAGING), ["raw", "clicks"], *(["program", p] for p in PROGRAM)],
            description=MART_DESCRIPTIONS[name],
            group_name="marts",
            kinds={"polars", "duckdb"},
        )
        for name in MARTS
    ],
)
def marts(attro: AttroResource) -> Iterator[dg.MaterializeResult]:
    """Every mart in one pass of the rules (models.marts.build_marts) over the staged events."""
    program = _step("marts", attro.program)
    _built, metadata = _step(
        "marts", lambda: steps.build_and_write_marts(attro.settings, program, attro.now(), attro.runs)
    )
    yield from _results(metadata)


@dg.asset(
    key=["warehouse", "snapshot"],
    deps=[*MART_KEYS, *(["raw", r] for r in RAW), *(["staging", s] for s in STAGING)],
    group_name="publish",
    kinds={"duckdb"},
)
def warehouse_snapshot(attro: AttroResource) -> dg.MaterializeResult:
    """The published data/warehouse.duckdb analysts open read-only: marts and program tables, views over
    the lake; replaced atomically."""
    (result,) = _results(_step("warehouse", lambda: steps.publish_warehouse(attro.settings, attro.runs)))
    return result


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


ASSETS = [raw, staging, program, marts, warehouse_snapshot, last_closed_period_export]
