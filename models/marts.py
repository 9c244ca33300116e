"""The whole chain of marts in one pure function: staged events, clicks, program tables, closed months, now.

`build_marts` is what the Dagster assets slice, what the tests and the demo call: the chain cannot
drift from its test copy. Each step is a rule module: (backfilled snapshots) → payments → attribution →
commissions → money back → closed periods → statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime

import polars as pl

from core.contracts import REJECTED_EVENT, conform, empty
from core.state.closed_periods import ClosedPeriods
from models.attribution import attribute
from models.clicks import build_clicks
from models.commissions import evaluate_conversions
from models.events import payment_observations
from models.ledger import build_ledger
from models.money_back import build_adjustments
from models.payments import build_payments
from models.snapshots import delivered_first
from models.statements import affiliate_statements


@dataclass(frozen=True)
class MartInputs:
    """Everything the marts are derived from."""

    objects: pl.DataFrame  # staging.stripe_objects: each consumed event, decoded
    clicks: pl.DataFrame  # raw.clicks
    offers: pl.DataFrame  # program.offers (one row per version)
    tiers: pl.DataFrame  # program.offer_tiers
    now: datetime  # holding periods are judged as of now
    closed: ClosedPeriods = field(default_factory=ClosedPeriods.none)
    rejected: pl.DataFrame = field(
        default_factory=lambda: empty(REJECTED_EVENT)
    )  # staging.rejected_events: events staging quarantined


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

    def tables(self) -> dict[str, pl.DataFrame]:
        """Table name → frame."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def build_marts(inputs: MartInputs) -> Marts:
    """Every mart, from the inputs alone (no I/O, no clock)."""
    clicks = build_clicks(inputs.clicks)
    objects = delivered_first(inputs.objects)  # a backfilled snapshot never doubles a delivered event
    payments = build_payments(payment_observations(objects))
    adjustments = build_adjustments(objects, payments)
    conversions, unattributed = attribute(payments, clicks, inputs.offers)
    evaluated = evaluate_conversions(conversions, inputs.offers, inputs.tiers)
    closed = inputs.closed
    lines = build_ledger(evaluated, adjustments, payments, closed.lines, closed.periods, inputs.now)
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
    )
