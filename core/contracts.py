"""The data contract, written once: landing records, raw and program tables, marts, consumed Stripe events.

Shapes are Polars schemas (name → dtype, in column order); the pyarrow forms dlt and DuckDB take are
derived from them (`arrow_schema`). `conform` gives any frame exactly a contract's columns and types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import polars as pl
import pyarrow as pa

from core.stripe_fields import (
    ATTRIBUTION_EVENTS,
    BACKFILL_EVENT_PREFIX,
    CONSUMED_EVENT_TYPES,
    CONSUMED_EVENTS,
    DISPUTE_EVENTS,
    FIRST,
    INT,
    PAYMENT_EVENTS,
    RAW_FIRST,
    REFUND_EVENTS,
    REQUIRED_OBJECT_FIELDS,
    STRIPE_OBJECT_FIELDS,
    SUM,
    TEXT,
    TIME,
)

__all__ = [  # the Stripe side of the contract, defined in core/stripe_fields.py, is part of this one
    "ATTRIBUTION_EVENTS",
    "BACKFILL_EVENT_PREFIX",
    "CONSUMED_EVENT_TYPES",
    "CONSUMED_EVENTS",
    "DISPUTE_EVENTS",
    "FIRST",
    "INT",
    "PAYMENT_EVENTS",
    "RAW_FIRST",
    "REFUND_EVENTS",
    "REQUIRED_OBJECT_FIELDS",
    "STRIPE_OBJECT_FIELDS",
    "SUM",
    "TEXT",
    "TIME",
]

Schema = Mapping[str, pl.DataType | type[pl.DataType]]
UTC_TIME = pl.Datetime("us", "UTC")
PERCENT = pl.Decimal(9, 4)


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def conform(frame: Frame, schema: Schema) -> Frame:
    """`frame` with exactly `schema`'s columns, in its order and types (absent columns are null)."""
    present = set(frame.collect_schema().names())
    return frame.select(
        [
            (pl.col(name) if name in present else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )


def empty(schema: Schema) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(schema))


def arrow_schema(schema: Schema) -> pa.Schema:
    """The pyarrow form of a contract schema (what dlt and DuckDB are handed)."""
    return empty(schema).to_arrow().schema


# -- landing records (NDJSON, one per line; times are RFC 3339 strings) ----------------------------

LANDED_EVENT = {
    "event_id": pl.String,
    "event_type": pl.String,
    "api_version": pl.String,
    "livemode": pl.Boolean,
    "created": pl.Int64,  # the event's Unix time, as Stripe sent it
    "received_at": pl.String,
    "payload": pl.String,  # the event body exactly as Stripe signed it (or as its API returned it)
    "source": pl.String,  # webhook | api | backfill (core.landing_records.EVENT_SOURCES)
}
UTM_FIELDS = ("source", "medium", "campaign", "term", "content")
LANDED_CLICK = {
    "click_id": pl.String,
    "clicked_at": pl.String,
    "received_at": pl.String,
    "source": pl.String,  # redirect | api
    "link_code": pl.String,
    "affiliate_id": pl.String,
    "offer_id": pl.String,
    "ip_hash": pl.String,
    "user_agent": pl.String,
    "referer": pl.String,
    "landing_url": pl.String,
    **{f"utm_{name}": pl.String for name in UTM_FIELDS},
    "is_bot": pl.Boolean,
}
LANDED_RECORDS = {"stripe_events": LANDED_EVENT, "clicks": LANDED_CLICK}
LANDED_TIMESTAMPS = {"stripe_events": ("received_at",), "clicks": ("clicked_at", "received_at")}
# A record without these is corrupt and quarantined.
REQUIRED_FIELDS = {
    "stripe_events": ("event_id", "event_type", "created", "received_at", "payload"),
    "clicks": ("click_id", "clicked_at", "link_code"),
}
PRIMARY_KEYS = {"stripe_events": "event_id", "clicks": "click_id"}
# Fields added to a landing record after lines were landed without them: their value for those lines
# (every event landed before `source` existed came by webhook).
LANDED_DEFAULTS = {"stripe_events": {"source": "webhook"}, "clicks": {}}


# -- raw (as landed, typed) ------------------------------------------------------------------------

RAW_EVENT = {
    "event_id": pl.String,
    "event_type": pl.String,
    "api_version": pl.String,
    "livemode": pl.Boolean,
    "created_at": UTC_TIME,
    "received_at": UTC_TIME,
    "payload": pl.String,
    "source": pl.String,
}
RAW_CLICK = {
    name: (UTC_TIME if name in LANDED_TIMESTAMPS["clicks"] else dtype) for name, dtype in LANDED_CLICK.items()
}
LANDING_REJECT = {
    "stream": pl.String,
    "landing_file": pl.String,
    "line_offset": pl.Int64,
    "error": pl.String,
    "line": pl.String,
}
LANDING_OFFSET = {  # raw.landing_offsets: how far each load read each landing file
    "stream": pl.String,
    "landing_file": pl.String,  # relative to the stream's folder
    "end_offset": pl.Int64,
}


# -- staging (each consumed event decoded once, when it is loaded) -------------------------------------

_FIELD_DTYPES = {
    INT: pl.Int64,
    TEXT: pl.String,
    SUM: pl.Int64,
    FIRST: pl.String,
    RAW_FIRST: pl.String,
    TIME: UTC_TIME,
}
STRIPE_OBJECT = {
    "event_id": pl.String,
    "event_type": pl.String,
    "object_kind": pl.String,
    "livemode": pl.Boolean,
    "created_at": UTC_TIME,  # the event's time
    "received_at": UTC_TIME,  # when this copy landed (a run keeps the earliest: models/objects.py)
    **{column: _FIELD_DTYPES[kind] for column, (_path, kind) in STRIPE_OBJECT_FIELDS.items()},
}
# -- program (the program file as tables) ----------------------------------------------------------

AFFILIATE = {
    "affiliate_id": pl.String,
    "name": pl.String,
    "email": pl.String,
    "status": pl.String,  # active | banned
    "banned_from": UTC_TIME,  # a banned affiliate's clicks from then on earn nothing
}
# Who an affiliate is on finance's files (frozen with a closed month as the program file had it).
AFFILIATE_CONTACT = {"affiliate_id": pl.String, "name": pl.String, "email": pl.String}
LINK = {"link_code": pl.String, "affiliate_id": pl.String, "offer_id": pl.String, "destination": pl.String}
CODE = {  # promotion codes that belong to an affiliate
    "code": pl.String,  # as the customer types it (matched case-insensitively)
    "promotion_code_id": pl.String,  # Stripe's promo_...
    "affiliate_id": pl.String,
    "offer_id": pl.String,
    "valid_from": UTC_TIME,
    "valid_until": UTC_TIME,  # exclusive
}
OFFER = {  # one row per offer version
    "offer_id": pl.String,
    "version": pl.Int64,
    "effective_from": UTC_TIME,
    "name": pl.String,
    "type": pl.String,
    "percent": PERCENT,
    "amount_minor": pl.Int64,
    "currency": pl.String,
    "recurring": pl.String,
    "recurring_months": pl.Int64,
    "attribution_window_days": pl.Int64,
    "holding_days": pl.Int64,
    "max_commission_minor": pl.Int64,
    "max_customer_commission_minor": pl.Int64,
}
OFFER_TIER = {
    "offer_id": pl.String,
    "version": pl.Int64,
    "name": pl.String,
    "min_conversions": pl.Int64,
    "percent": PERCENT,
}
# What makes two versions of an offer the same terms: not the offer, its name and attribution window
# (they follow the program file), nor the version's number and start.
OFFER_TERMS = tuple(
    c for c in OFFER if c not in ("offer_id", "name", "attribution_window_days", "version", "effective_from")
)
TIER_TERMS = tuple(c for c in OFFER_TIER if c not in ("offer_id", "version"))
PROGRAM_TABLES = {
    "affiliates": AFFILIATE,
    "links": LINK,
    "codes": CODE,
    "offers": OFFER,
    "offer_tiers": OFFER_TIER,
}


# -- marts -----------------------------------------------------------------------------------------

CLICK = {  # marts.clicks: the raw click without received_at, in the design's column order
    name: RAW_CLICK[name]
    for name in (
        "click_id",
        "clicked_at",
        "link_code",
        "affiliate_id",
        "offer_id",
        "ip_hash",
        "user_agent",
        "referer",
        "landing_url",
        *(f"utm_{name}" for name in UTM_FIELDS),
        "is_bot",
        "source",
    )
}

# raw.clicks_landed_again: the copies of a click id raw.clicks holds besides the one marts.clicks keeps
# (landed later; marts.clicks, a view of raw.clicks, leaves them out). What raw holds depends on the
# order copies were loaded in (a copy landed later than the one held is not loaded); marts do not.
LANDED_AGAIN_CLICK = {
    name: RAW_CLICK[name] for name in ("click_id", "received_at", "clicked_at", "link_code")
}

# raw.stripe_events_landed_again: the copies of an event raw holds besides the one the rules read (the
# earliest landed that staging decoded, else the earliest); the raw.stripe_events view leaves them out.
LANDED_AGAIN_EVENT = {name: RAW_EVENT[name] for name in ("event_id", "received_at")}

PAYMENT_OBSERVATION = {  # one row per event that reports or links a payment, in a common shape
    "event_id": pl.String,
    "event_type": pl.String,
    "object_kind": pl.String,
    "source_rank": pl.Int8,
    "livemode": pl.Boolean,
    "event_created_at": UTC_TIME,
    "paid_at": UTC_TIME,
    "confirms_payment": pl.Boolean,
    "session_id": pl.String,
    "invoice_id": pl.String,
    "payment_intent_id": pl.String,
    "charge_id": pl.String,
    "subscription_id": pl.String,
    "checkout_mode": pl.String,
    "billing_reason": pl.String,
    "customer_id": pl.String,
    "customer_email": pl.String,
    "amount_minor": pl.Int64,
    "tax_minor": pl.Int64,
    "currency": pl.String,
    "metadata_click_id": pl.String,
    "client_reference_id": pl.String,
    "subscription_metadata_click_id": pl.String,
    "promotion_code_id": pl.String,  # the promotion code the payment used (promo_...)
    "discount_id": pl.String,  # or, on invoices from 2025-03-31, the discount that carries it (di_...)
}
REJECTED_EVENT = {"event_id": pl.String, "event_type": pl.String, "reason": pl.String}

PAYMENT = {
    "payment_id": pl.String,
    "occurred_at": UTC_TIME,
    "livemode": pl.Boolean,
    "customer_id": pl.String,
    "customer_email": pl.String,
    "subscription_id": pl.String,
    "invoice_id": pl.String,
    "payment_intent_id": pl.String,
    "checkout_session_id": pl.String,
    "charge_id": pl.String,
    "billing_reason": pl.String,
    "amount_minor": pl.Int64,
    "tax_minor": pl.Int64,
    "currency": pl.String,
    "click_id": pl.String,
    "click_id_source": pl.String,
    "promotion_code_id": pl.String,
    "promotion_code": pl.String,  # the code the customer typed (from promotion_code events)
    "match_method": pl.String,
    "checkout_completed_at": UTC_TIME,
    "source_event_ids": pl.List(pl.String),
}
PAYMENT_ADJUSTMENT = {
    "adjustment_id": pl.String,
    "payment_id": pl.String,
    "occurred_at": UTC_TIME,
    "kind": pl.String,
    "amount_minor": pl.Int64,
    "currency": pl.String,
    "charge_id": pl.String,
    "payment_intent_id": pl.String,
    "livemode": pl.Boolean,
    "source_event_id": pl.String,
}
ATTRIBUTED_PAYMENT = {  # a conversion before its offer's terms are applied
    "conversion_id": pl.String,
    "attribution_id": pl.String,
    "payment_id": pl.String,
    "click_id": pl.String,
    "click_id_source": pl.String,
    "affiliate_id": pl.String,
    "offer_id": pl.String,
    "link_code": pl.String,
    "conversion_type": pl.String,
    # click_metadata | client_reference_id | subscription_metadata | customer_earlier | lead | promotion_code
    "attribution_method": pl.String,
    "contested_by_affiliate_id": pl.String,  # the other candidate a precedence setting overruled
    "contested_by_method": pl.String,
    "payment_number": pl.Int64,
    "occurred_at": UTC_TIME,
    "attributed_from_at": UTC_TIME,
    "clicked_at": UTC_TIME,  # of the click the attribution rests on
    "amount_minor": pl.Int64,
    "tax_minor": pl.Int64,
    "currency": pl.String,
    "livemode": pl.Boolean,
    "customer_id": pl.String,
    "subscription_id": pl.String,
    "billing_reason": pl.String,
}
CONVERSION = {
    **ATTRIBUTED_PAYMENT,
    "offer_version": pl.Int64,
    "tier": pl.String,
    "month_initial_conversions": pl.Int64,
    "commissionable": pl.Boolean,
    "not_commissionable_reason": pl.String,
    "base_amount_minor": pl.Int64,
    "commission_minor": pl.Int64,
    "holding_days": pl.Int64,
    "rule": pl.String,
}
UNATTRIBUTED_PAYMENT = {
    "payment_id": pl.String,
    "occurred_at": UTC_TIME,
    "livemode": pl.Boolean,
    "customer_id": pl.String,
    "subscription_id": pl.String,
    "billing_reason": pl.String,
    "amount_minor": pl.Int64,
    "currency": pl.String,
    "click_id": pl.String,
    "reason": pl.String,
    "detail": pl.String,
}
COMMISSION_LINE = {
    "line_id": pl.String,
    "conversion_id": pl.String,
    "payment_id": pl.String,
    "affiliate_id": pl.String,
    "offer_id": pl.String,
    "kind": pl.String,
    "rule": pl.String,
    "base_amount_minor": pl.Int64,
    "amount_minor": pl.Int64,
    "currency": pl.String,
    "earned_at": UTC_TIME,
    "payable_on": pl.Date,
    "period": pl.String,
    "status": pl.String,
    "livemode": pl.Boolean,
}
LEDGER_LINE = {**COMMISSION_LINE, "carried_from_period": pl.String}  # marts.commission_lines
# Line statuses in no statement total but their own: `held` waits for review (only in held_minor),
# `void` was taken back in full before it became payable (summed apart by the export).
NOT_IN_STATEMENT = ("held", "void")
STATEMENT = {
    "period": pl.String,
    "affiliate_id": pl.String,
    "currency": pl.String,
    "opening_balance_minor": pl.Int64,
    "gross_minor": pl.Int64,
    "reversals_minor": pl.Int64,
    "reinstatements_minor": pl.Int64,
    "net_minor": pl.Int64,
    "closing_balance_minor": pl.Int64,
    "payable_minor": pl.Int64,
    "carried_forward_minor": pl.Int64,
    "approved_minor": pl.Int64,
    "pending_minor": pl.Int64,
    "held_minor": pl.Int64,  # lines held for review: in no other total, never payable until approved
    "commission_lines": pl.Int64,
    "reversal_lines": pl.Int64,
    "reinstatement_lines": pl.Int64,
    "line_count": pl.Int64,
    "closed_at": UTC_TIME,
}

LEAD = {  # marts.leads: customers created with a click id (at sign-up), who may pay later
    "customer_id": pl.String,
    "click_id": pl.String,
    "affiliate_id": pl.String,
    "link_code": pl.String,
    "offer_id": pl.String,
    "created_at": UTC_TIME,  # when the customer was created with the click id
    "clicked_at": UTC_TIME,
    "livemode": pl.Boolean,
    "reason": pl.String,  # why the lead attributes nothing (unknown_click, bot_click, click_expired, ...)
    "source_event_id": pl.String,
}
FUNNEL_DAY = {  # marts.funnel_daily
    "day": pl.Date,
    "affiliate_id": pl.String,
    "link_code": pl.String,  # null for sales through a promotion code
    "offer_id": pl.String,
    "currency": pl.String,  # null on the row holding the day's clicks and leads
    "clicks": pl.Int64,  # not bots
    "leads": pl.Int64,
    "new_customers": pl.Int64,
    "payments": pl.Int64,
    "revenue_minor": pl.Int64,
    "commission_minor": pl.Int64,
}
DECIDED_FLAG = ("rule", "detail", "affiliate_id", "conversion_id", "click_id", "detected_at")
RISK_FLAG = {  # marts.risk_flags
    "flag_id": pl.String,  # stable across reruns: a decision sticks to it
    "rule": pl.String,
    "detail": pl.String,
    "affiliate_id": pl.String,
    "conversion_id": pl.String,
    "click_id": pl.String,
    "detected_at": UTC_TIME,
    "decision": pl.String,  # open | approved | rejected
    "decided_at": UTC_TIME,
    "note": pl.String,
}
RISK_DECISION = {  # kept under state/, outside the warehouse
    "flag_id": pl.String,
    "decision": pl.String,
    "decided_at": UTC_TIME,
    "note": pl.String,
    # the flag as it was decided (decisions recorded before these were kept have none): a decided
    # flag that a rule no longer raises (turned off, an email corrected) is kept with its decision
    **{f"flag_{name}": RISK_FLAG[name] for name in DECIDED_FLAG},
}

MARTS = {
    "clicks": CLICK,
    "payments": PAYMENT,
    "payment_adjustments": PAYMENT_ADJUSTMENT,
    "rejected_events": REJECTED_EVENT,
    "conversions": CONVERSION,
    "unattributed_payments": UNATTRIBUTED_PAYMENT,
    "commission_lines": LEDGER_LINE,
    "affiliate_statements": STATEMENT,
    "risk_flags": RISK_FLAG,
    "leads": LEAD,
    "funnel_daily": FUNNEL_DAY,
}
