"""The pipeline's steps as plain functions: each Dagster asset is one of them; `attro run` runs them in order.

landing → raw (dlt, Parquet in the lake) → staging (each event decoded once) → program tables and
marts (models.marts.build_marts over the compact staging tables) → publish (data/warehouse.duckdb).
Every step returns its metadata per asset key, which Dagster shows and `attro run` prints.
"""

from __future__ import annotations

import gc
import shutil
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from disposable_email_domains import blocklist as disposable_domains

from core.click_ids import CLICK_ID_PATTERN
from core.contracts import (
    AFFILIATE,
    CLICK,
    CODE,
    LANDED_AGAIN_CLICK,
    LANDED_DEFAULTS,
    LANDING_REJECT,
    LINK,
    OFFER,
    OFFER_TIER,
    RAW_CLICK,
    RAW_EVENT,
    REJECTED_EVENT,
    STRIPE_OBJECT,
    conform,
)
from core.program import Program
from core.settings import Settings
from core.state.closed_periods import load_closed
from core.state.offer_terms import record_code_owners, record_offer_terms, recorded_frames
from core.state.review_decisions import load_decisions
from models.attribution import AttributionSettings
from models.marts import MartInputs, Marts, build_marts
from models.offer_history import offer_timeline
from models.risk import RULES, RiskSettings, held_for_review
from pipelines import freshness
from pipelines.lake import Lake
from pipelines.lib.duck import lake_connection
from pipelines.lib.loading import load_landing
from pipelines.lib.warehouse import (
    Build,
    add_lake_views,
    add_lookup_indexes,
    add_money_macros,
    connect,
    discard_next,
    publish,
    write_tables,
)
from pipelines.sources.program import program_tables
from pipelines.staging.stage import OBJECTS, REJECTED, events_landed_again, stage_new

Metadata = dict[str, dict[str, Any]]  # asset path → its metadata


def load_raw(settings: Settings) -> Metadata:
    """New landing lines → raw.stripe_events, raw.clicks, raw.landing_rejects (and staged ahead, the
    raw loads judging a copy of an event needed staged: counted in the staging step's figures)."""
    stats = load_landing(settings)
    _STAGED_AHEAD[settings.lake_dir] = stats["staged_ahead"]
    # dlt's run leaves reference cycles (its configuration lookups' caught exceptions, with their
    # frames) that only Python's rare full collection frees: collected now, at 1M events every later
    # step's peak is 0.1-0.2 GB lower, for 0.16 s.
    gc.collect()
    events, clicks = stats["stripe_events"], stats["clicks"]
    rejected = events["rejected_lines"] + clicks["rejected_lines"]
    reasons = Counter(events.get("rejected_reasons", {})) + Counter(clicks.get("rejected_reasons", {}))
    lake = Lake(settings.lake_dir)
    quarantined = lake.raw("landing_rejects").rows()
    return {
        "raw/stripe_events": {
            "rows": lake.raw("stripe_events").rows(),  # every event loaded so far (from file footers)
            "new_events": events["new"],
            "records_read": events["records"],
            "rejected_lines": events["rejected_lines"],
            "torn_lines_waiting": events["torn_lines_waiting"],
        },
        "raw/clicks": {
            "rows": lake.raw("clicks").rows(),
            "new_clicks": clicks["new"],
            "records_read": clicks["records"],
            "rejected_lines": clicks["rejected_lines"],
            "torn_lines_waiting": clicks["torn_lines_waiting"],
        },
        "raw/landing_rejects": {
            "new_rejected_lines": rejected,
            "rows": quarantined,  # every line quarantined so far
            **{f"reason: {reason}": count for reason, count in sorted(reasons.items())},
        },
    }


# Staging counts the raw step's loading staged ahead, by lake, for this process's next staging step
# (`attro run`; a Dagster run's steps share its process too).
_STAGED_AHEAD: dict[Path, dict[str, int]] = {}


def stage(settings: Settings) -> Metadata:
    """Raw events not staged yet → staging.stripe_objects and staging.rejected_events."""
    stats = dict(stage_new(settings))
    for name, count in _STAGED_AHEAD.pop(settings.lake_dir, {}).items():
        stats[name] += count
    lake = Lake(settings.lake_dir)
    return {
        "staging/stripe_objects": {
            "rows": lake.staging(OBJECTS).rows(),  # every event decoded so far
            "loads_staged": stats["loads_staged"],
            "new_rows": stats["events_staged"],
        },
        "staging/rejected_events": {
            "rows": lake.staging(REJECTED).rows(),
            "new_rows": stats["events_quarantined"],
        },
    }


def program_frames(program: Program) -> dict[str, pl.DataFrame]:
    """The program file as its four tables."""
    return {name: pl.from_arrow(table) for name, table in program_tables(program).items()}  # type: ignore[misc]


def start_raw(settings: Settings, runs: Sequence[str], inputs: str) -> Metadata:
    """The raw stage of a run: `begin_run`, then `load_raw` (a failure of either is the raw stage's)."""
    begin_run(settings, runs, inputs)
    return load_raw(settings)


def begin_run(settings: Settings, runs: Sequence[str], inputs: str) -> None:
    """A run that loads the landing zone starts from nothing a crashed run left (a half-built next
    warehouse, DuckDB's spill files) and notes the inputs it started from (freshness's fingerprint:
    publishing records it, so `attro run` knows the published warehouse is current)."""
    discard_next(settings)
    shutil.rmtree(settings.build_dir / "duckdb-tmp", ignore_errors=True)
    for stale in settings.data_dir.glob(".warehouse.duckdb.*.tmp"):
        stale.unlink(missing_ok=True)  # a copy the previous design left behind
    Build(settings).begin(runs[0], inputs)


def applied_program(settings: Settings, program: Program, now: datetime) -> dict[str, pl.DataFrame]:
    """The program tables the rules apply: the file's, but offers and their tiers with every version
    in force over time (an offer's edit recorded when a run first sees it: terms are locked, see
    core/state/offer_terms.py)."""
    frames = program_frames(program)
    entries = record_offer_terms(settings, frames["offers"], frames["offer_tiers"], now)
    recorded, recorded_tiers = recorded_frames(entries)
    frames["offers"], frames["offer_tiers"] = offer_timeline(frames["offers"], recorded, recorded_tiers)
    return frames


def write_program(settings: Settings, program: Program, now: datetime, runs: Sequence[str]) -> Metadata:
    """Start the next warehouse with the program tables (the program file is the truth, its offers as
    `applied_program` has them). `runs` is this run's id, then those of the runs it re-executes
    (Dagster's parent and root)."""
    build = Build(settings)
    inputs = build.inputs(runs)
    began = build.began_at() if inputs is not None else None  # when the run's raw step began reading
    frames = applied_program(settings, program, now)
    with connect(settings, fresh=True) as con:
        write_tables(con, {f"program.{name}": frame for name, frame in frames.items()})
    build.begin(runs[0], inputs, began)
    return {f"program/{name}": {"rows": frame.height} for name, frame in frames.items()}


# What the rules read of a click (attribution and risk): not the user agent, most UTM fields or when it
# landed, which only marts.clicks shows — a view over raw.clicks, never held in memory.
RULES_CLICK = {
    name: RAW_CLICK[name]
    for name in (
        "click_id", "clicked_at", "link_code", "affiliate_id", "offer_id", "ip_hash", "referer",
        "landing_url", "utm_medium", "is_bot", "received_at",
    )
}  # fmt: skip
CLICKS_VIEW = "clicks"  # the mart published as a view (see lake_views), not written from a frame
LANDED_AGAIN = "raw.clicks_landed_again"  # what the view leaves out of raw.clicks (models/clicks.py)
EVENTS_LANDED_AGAIN = "raw.stripe_events_landed_again"  # what raw.stripe_events leaves out (staging)


def mart_inputs(settings: Settings, program: Program, now: datetime) -> MartInputs:
    """What build_marts takes, read from the lake's compact tables (never raw payloads)."""
    lake = Lake(settings.lake_dir)
    frames = applied_program(settings, program, now)
    # lazy: each rule reads only the rows and columns it uses, never all 46 columns of every object
    objects = lake.staging(OBJECTS).scan(STRIPE_OBJECT)
    rejected = lake.staging(REJECTED).read(REJECTED_EVENT)
    clicks = lake.raw("clicks").scan(RULES_CLICK)  # read by build_clicks: no copy beside the mart
    return MartInputs(
        objects=objects,
        clicks=clicks,
        offers=conform(frames["offers"], OFFER),
        tiers=conform(frames["offer_tiers"], OFFER_TIER),
        now=now,
        closed=load_closed(settings),
        rejected=rejected,
        affiliates=conform(frames["affiliates"], AFFILIATE),
        risk=risk_settings(program),
        decisions=load_decisions(settings),
        # every mapping of codes the runs have seen, each ruling the sales of its time
        codes=record_code_owners(settings, conform(frames["codes"], CODE), now),
        links=conform(frames["links"], LINK),
        attribution=AttributionSettings(program.attribution_precedence, program.lead_window_days),
    )


def risk_settings(program: Program) -> RiskSettings:
    """The program file's [risk] section, with the maintained list of disposable mail domains."""
    risk = program.risk
    return RiskSettings(
        hold=frozenset(rule for rule in RULES if getattr(risk, rule) == "hold"),
        banned_referrers=tuple(risk.banned_referrers),
        min_seconds_click_to_purchase=risk.min_seconds_click_to_purchase,
        max_clicks_per_ip_hash_per_day=risk.max_clicks_per_ip_hash_per_day,
        disposable_domains=frozenset(disposable_domains),
    )


# Columns of ids unique to each row (and each payment's list of event ids) are stored uncompressed:
# compressing them was half the time of writing the marts (300k events: 1.9-2.2 s compressed against
# 1.0-1.2 s not; 1M: 3.7-4.3 against 1.8-2.5 s) and made the marts only a fifth smaller (300k: 35
# against 43 MB; 1M: 126 against 154 MB).
UNCOMPRESSED = {
    "marts.payments": (
        "payment_id", "source_event_ids", "charge_id", "payment_intent_id", "checkout_session_id",
        "invoice_id",
    ),
    "marts.conversions": ("conversion_id", "payment_id"),
    "marts.commission_lines": ("line_id", "payment_id", "conversion_id"),
}  # fmt: skip


def build_and_write_marts(
    settings: Settings, program: Program, now: datetime, runs: Sequence[str]
) -> tuple[Marts, Metadata]:
    """Every mart, written into the next warehouse — this run's: when the run did not start one (its
    program step was not selected, or ran in a run another has published since), it starts one with
    the program tables first, so what it publishes is whole."""
    if Build(settings).owner(runs) is None:
        write_program(settings, program, now, runs)
    inputs = mart_inputs(settings, program, now)
    # the offer terms and code owners as the run last read and wrote them: an edit from here on is the
    # next run's (a hand edit made while the marts were built was recorded as read)
    Build(settings).note_written(freshness.written_signature(settings))
    marts = build_marts(inputs)
    tables = {f"marts.{name}": frame for name, frame in marts.tables().items() if name != CLICKS_VIEW}
    tables[LANDED_AGAIN] = marts.clicks_landed_again
    tables[EVENTS_LANDED_AGAIN] = events_landed_again(settings)
    with connect(settings) as con:
        write_tables(con, tables, UNCOMPRESSED)
    metadata = {f"marts/{name}": mart_metadata(name, frame, inputs) for name, frame in marts.tables().items()}
    held = held_for_review(marts.commission_lines, marts.risk_flags, marts.conversions)
    by_currency = held.group_by("currency").agg(pl.col("amount_minor").sum()).sort("currency")
    metadata["marts/risk_flags"]["held"] = dict(by_currency.rows())  # currency → minor units flags hold
    return marts, metadata


def broken_invariants(marts: Marts) -> list[str]:
    """What a run must not publish: a payment or a conversion counted twice."""
    problems = []
    for table, key in (("payments", "payment_id"), ("conversions", "conversion_id")):
        frame = getattr(marts, table)
        duplicates = frame.height - frame[key].n_unique()
        if duplicates:
            problems.append(f"marts.{table}: {duplicates} duplicate {key}s")
    return problems


def mart_metadata(name: str, frame: pl.DataFrame, inputs: MartInputs) -> dict[str, Any]:
    metadata: dict[str, Any] = {"rows": frame.height}
    if name in ("rejected_events", "unattributed_payments"):
        for reason, count in frame.group_by("reason").len().sort("reason").rows():
            metadata[f"reason: {reason}"] = count
    if name == "risk_flags":
        open_flags = frame.filter(pl.col("decision") == "open")
        metadata["open"] = open_flags.height
        for rule, count in frame.group_by("rule").len().sort("rule").rows():
            metadata[f"rule: {rule}"] = count
    if name == "commission_lines":
        metadata["closed_periods"] = len(inputs.closed.periods)
        metadata["carried_forward_lines"] = frame.filter(pl.col("carried_from_period").is_not_null()).height
    return metadata


def lake_views(settings: Settings) -> dict[str, tuple[list[Path], dict]]:
    """The raw and staging tables analysts see: views over the lake's current files."""
    lake = Lake(settings.lake_dir)
    return {
        "raw.stripe_events": (lake.raw("stripe_events").paths(), RAW_EVENT),
        "raw.clicks": (lake.raw("clicks").paths(), RAW_CLICK),
        "raw.landing_rejects": (lake.raw("landing_rejects").paths(), LANDING_REJECT),
        "staging.stripe_objects": (lake.staging(OBJECTS).paths(), STRIPE_OBJECT),
        "staging.rejected_events": (lake.staging(REJECTED).paths(), REJECTED_EVENT),
    }


# Values of columns that lake files written before the column existed lack.
LAKE_VIEW_DEFAULTS = {"raw.stripe_events": LANDED_DEFAULTS["stripe_events"]}


def publish_warehouse(settings: Settings, runs: Sequence[str]) -> Metadata:
    """Add the lake views to the next warehouse and move it into place; then tidy the lake. Only a
    warehouse this run built, program and marts, is published."""
    build = Build(settings)
    if build.owner(runs) is None:
        raise RuntimeError(
            "this run built no warehouse to publish: warehouse/snapshot publishes the program and marts "
            "tables built in the same run (select the marts with it, or Materialize all)"
        )
    with connect(settings) as con:
        schemas = {
            r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()
        }
        if missing := {"program", "marts"} - schemas:
            raise RuntimeError(
                f"this run's warehouse has no {' or '.join(sorted(missing))} tables: select the marts with "
                "warehouse/snapshot (or Materialize all)"
            )
        # each event once, the copy the rules read, in raw and in staging (both keep every copy loaded)
        one_copy = {"raw.stripe_events": EVENTS_LANDED_AGAIN, "staging.stripe_objects": EVENTS_LANDED_AGAIN}
        add_lake_views(con, lake_views(settings), LAKE_VIEW_DEFAULTS, one_copy)
        # marts.clicks is raw.clicks as the rules see it (models/clicks.py): ours, one row per click id,
        # without the copies of an id landed again (raw.clicks_landed_again, nearly always empty)
        columns = ", ".join(f"c.{name}" for name in CLICK)
        same = " and ".join(f"c.{name} is not distinct from s.{name}" for name in LANDED_AGAIN_CLICK)
        con.execute(
            f"create or replace view marts.{CLICKS_VIEW} as select {columns} from raw.clicks c"
            f" anti join {LANDED_AGAIN} s on {same}"
            f" where regexp_full_match(c.click_id, '{CLICK_ID_PATTERN.pattern.strip('^$')}')"
        )
        add_money_macros(con)
        add_lookup_indexes(con)
    path = publish(settings)
    if inputs := build.inputs(runs):  # the run loaded the landing zone itself: the warehouse is current
        freshness.record(settings, inputs, landing_read_from=build.began_at(), written=build.written())
    build.end()
    maintenance = maintain_lake(settings)
    return {"warehouse/snapshot": {"path": str(path), "bytes": path.stat().st_size, **maintenance}}


def maintain_lake(settings: Settings) -> dict[str, int]:
    """Compact tables with many small files, delete what no current snapshot needs any more."""
    lake = Lake(settings.lake_dir)
    written = removed = 0
    with lake_connection(settings) as con:
        for table in lake.tables():
            written += len(table.compact(con))
    for table in lake.tables():
        removed += table.sweep()
    return {"lake_files_compacted": written, "lake_files_removed": removed}
