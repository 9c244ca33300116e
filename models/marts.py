"""The whole chain of marts in one pure function: staged events, clicks, program tables, closed months, now.

`build_marts` is what the Dagster assets slice, what the tests and the demo call: the chain cannot
drift from its test copy. Each step is a rule module: (backfilled snapshots) → payments → attribution
→ commissions → risk → money back, holding and review → closed periods → statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime

import polars as pl

from core.contracts import (
    AFFILIATE,
    CODE,
    LANDED_AGAIN_CLICK,
    LINK,
    PAYMENT_EVENTS,
    REJECTED_EVENT,
    RISK_DECISION,
    conform,
    empty,
)
from core.state.closed_periods import ClosedPeriods
from models.attribution import AttributionSettings, attribute
from models.clicks import clicks_and_landed_again
from models.commissions import evaluate_conversions, month_initial_conversions
from models.events import payment_observations
from models.funnel import funnel_daily
from models.leads import build_leads
from models.ledger import build_ledger
from models.money_back import build_adjustments, capture_releases, refunded_for_good
from models.objects import Objects, objects_where, one_copy_per_event
from models.payments import CHARGE_IDS, INTENT_IDS, build_payments
from models.risk import RiskSettings, rejected_payments, risk_flags
from models.snapshots import delivered_first
from models.statements import affiliate_statements


@dataclass(frozen=True)
class MartInputs:
    """Everything the marts are derived from."""

    objects: Objects  # staging.stripe_objects: each consumed event, decoded (a frame, or a lazy scan)
    clicks: pl.DataFrame | pl.LazyFrame  # raw.clicks (a frame, or a lazy scan read by build_clicks)
    offers: pl.DataFrame  # program.offers (one row per version)
    tiers: pl.DataFrame  # program.offer_tiers
    now: datetime  # holding periods are judged as of now
    closed: ClosedPeriods = field(default_factory=ClosedPeriods.none)
    # staging.rejected_events: events staging quarantined
    rejected: pl.DataFrame = field(default_factory=lambda: empty(REJECTED_EVENT))
    affiliates: pl.DataFrame = field(default_factory=lambda: empty(AFFILIATE))  # program.affiliates
    risk: RiskSettings = field(default_factory=RiskSettings)  # the program file's [risk]
    decisions: pl.DataFrame = field(default_factory=lambda: empty(RISK_DECISION))  # reviews of flags
    codes: pl.DataFrame = field(default_factory=lambda: empty(CODE))  # program.codes
    links: pl.DataFrame = field(default_factory=lambda: empty(LINK))  # program.links
    attribution: AttributionSettings = field(default_factory=AttributionSettings)


@dataclass(frozen=True)
class Marts:
    """The marts (schema `marts`), one frame per table, in core.contracts.MARTS order."""

    clicks: pl.DataFrame
    payments: pl.DataFrame
    payment_adjustments: pl.DataFrame
    rejected_events: pl.DataFrame
    conversions: pl.DataFrame
    unattributed_payments: pl.DataFrame
    commission_lines: pl.DataFrame
    affiliate_statements: pl.DataFrame
    risk_flags: pl.DataFrame
    leads: pl.DataFrame
    funnel_daily: pl.DataFrame
    # not a mart: raw.clicks_landed_again, the copies of click ids raw.clicks holds besides the kept one
    clicks_landed_again: pl.DataFrame = field(default_factory=lambda: empty(LANDED_AGAIN_CLICK))

    def tables(self) -> dict[str, pl.DataFrame]:
        """Mart name → frame."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "clicks_landed_again"}


def build_marts(inputs: MartInputs) -> Marts:
    """Every mart, from the inputs alone (no I/O, no clock)."""
    # one copy of an event landed twice; a backfilled snapshot never doubles a delivered event
    objects = delivered_first(one_copy_per_event(inputs.objects))
    # Payment events are nearly every staged object; the rules read them kind by kind, only the columns
    # each kind needs (payment_observations). Every other rule reads other events (codes, refunds,
    # disputes, customers), a few per cent of the rows: read once, all columns, and filtered in memory.
    others = objects_where(objects, ~pl.col("event_type").is_in(list(PAYMENT_EVENTS)))
    payments = build_payments(payment_observations(objects), others)
    adjustments = build_adjustments(others, payments, capture_releases(objects))
    payments = payments.drop(CHARGE_IDS, INTENT_IDS)  # linked money back; marts.payments has its own ids
    # after payments: not held through their peak
    clicks, landed_again = clicks_and_landed_again(inputs.clicks)
    leads = build_leads(others, clicks, inputs.offers)
    conversions, unattributed = attribute(
        payments,
        clicks,
        inputs.offers,
        codes=inputs.codes,
        links=inputs.links,
        objects=others,
        leads=leads,
        settings=inputs.attribution,
        affiliates=inputs.affiliates,
    )
    # Tiers count sales that stick: not one refunded in full whose customer paid nothing else that
    # stuck (a buy-refund-buy loop reached a tier), nor one a reviewer rejected (self-referrals did).
    # A rejection is known from the flags, raised on the evaluated conversions (from no tier or
    # commission column): evaluated again, same flags, when a rejection changes what a tier counts;
    # without tiers only the count changes (month_initial_conversions has one meaning either way).
    refunded = refunded_for_good(conversions, payments, adjustments)
    evaluated = evaluate_conversions(conversions, inputs.offers, inputs.tiers, inputs.affiliates, refunded)
    flags = risk_flags(evaluated, payments, clicks, inputs.affiliates, inputs.decisions, inputs.risk)
    rejected = rejected_payments(flags, evaluated)
    if not rejected.is_empty():
        not_counted = pl.concat([refunded, rejected]).unique()
        if inputs.tiers.is_empty():
            evaluated = month_initial_conversions(evaluated, not_counted)
        else:
            evaluated = evaluate_conversions(
                conversions, inputs.offers, inputs.tiers, inputs.affiliates, not_counted
            )
    closed = inputs.closed
    lines = build_ledger(
        evaluated, adjustments, payments, closed.lines, closed.periods, inputs.now, flags, unattributed
    )
    statements = affiliate_statements(lines, closed.statements, closed.closed_at)
    return Marts(
        clicks=clicks,
        payments=payments,
        payment_adjustments=adjustments,
        rejected_events=conform(inputs.rejected, REJECTED_EVENT).unique("event_id").sort("event_id"),
        conversions=evaluated,
        unattributed_payments=unattributed,
        commission_lines=lines,
        affiliate_statements=statements,
        risk_flags=flags,
        leads=leads,
        funnel_daily=funnel_daily(clicks, leads, evaluated, lines),
        clicks_landed_again=landed_again,
    )
