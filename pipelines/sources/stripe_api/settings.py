"""Stripe API reading: which lists are read, how much at a time, and how patiently."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

PAGE_SIZE = 100  # Stripe's largest page: one landing commit per page
MAX_NETWORK_RETRIES = 4  # the library retries connection errors, 409, 5xx (and 429s Stripe marks retryable)
MAX_RATE_LIMIT_WAITS = 8  # 429s in a row before giving up
MAX_RETRY_AFTER_SECONDS = 60.0  # a longer Retry-After is capped (and waited again if Stripe insists)

EVENTS_HORIZON = timedelta(days=30)  # Stripe's events API keeps 30 days
# Events younger than this are left to their webhook (normally seconds away); the next sync sees them.
SYNC_GRACE = timedelta(minutes=10)
MAX_TYPES_PER_LIST = 20  # the events API's limit on `types`

# A backfill reads each list in windows of creation time, one dlt load each (about 2 s of dlt work per
# window): an interruption costs at most one window.
BACKFILL_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class ObjectKind:
    """One Stripe list a backfill reads: its dlt resource (and table) name, the StripeClient service
    that lists it, extra list parameters, and the read permission a restricted key needs for it."""

    table: str
    service: str  # attribute path under StripeClient.v1, e.g. "checkout.sessions"
    permission: str
    params: dict[str, Any] = field(default_factory=dict)


OBJECT_KINDS = (
    ObjectKind("checkout_sessions", "checkout.sessions", "Checkout Sessions"),
    # with their discounts expanded: from API 2025-03-31 an invoice names discount ids, and a discount
    # says which promotion code it applied (the webhooks' customer.discount.* events)
    ObjectKind("invoices", "invoices", "Invoices", {"expand": ["data.discounts"]}),
    # API 2025-03-31+: what ties a subscription's PaymentIntent to its invoice
    ObjectKind("invoice_payments", "invoice_payments", "Invoices"),
    ObjectKind("charges", "charges", "Charges"),
    ObjectKind("payment_intents", "payment_intents", "PaymentIntents"),
    ObjectKind("refunds", "refunds", "Refunds (Charges)"),
    ObjectKind("disputes", "disputes", "Disputes"),
    ObjectKind("subscriptions", "subscriptions", "Subscriptions", {"status": "all"}),  # canceled too
    # who a sale belongs to beyond its click: codes' text and metadata, customers signed up with a click
    ObjectKind("promotion_codes", "promotion_codes", "Promotion Codes"),
    ObjectKind("customers", "customers", "Customers"),
)
EVENTS_PERMISSION = "Events"
