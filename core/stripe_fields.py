"""The Stripe side of the data contract, standard library only (the receiver's landing process reads it).

Which event types the rules consume, and which fields of each event's `data.object` staging decodes,
with their types. core/contracts.py builds the typed staging schema from it; the receiver refuses at
the door an event whose integers are not integers (receiver/event_values.py reads these fields too).
"""

from __future__ import annotations

# Stripe amounts are integers of at most 8 digits (99999999) for most currencies and 12 for a few
# (e.g. IDR). Anything from 10**12 up is no Stripe amount; below it, an amount times a commission
# rate and the sum of millions of payments both stay far inside 64-bit integers (BIGINT, Int64). The
# receiver's door, staging and the program file's amounts all stop there.
MAX_AMOUNT_DIGITS = 12
AMOUNT_LIMIT = 10**MAX_AMOUNT_DIGITS

# -- Stripe events the models consume -------------------------------------------------------------

# Event type → the kind of object in `data.object` the models read from it.
PAYMENT_EVENTS = {
    "checkout.session.completed": "checkout.session",
    "checkout.session.async_payment_succeeded": "checkout.session",
    "invoice.paid": "invoice",
    "invoice.payment_succeeded": "invoice",
    "invoice_payment.paid": "invoice_payment",
    "charge.succeeded": "charge",
    "charge.captured": "charge",  # a card authorized earlier (manual capture), now charged
    "payment_intent.succeeded": "payment_intent",
}
REFUND_EVENTS = {
    "refund.created": "refund",
    "refund.updated": "refund",
    "refund.failed": "refund",  # from API 2024-10-28.acacia, beside refund.updated (status failed)
    "charge.refund.updated": "refund",
    "charge.refunded": "charge",  # amount_refunded is cumulative
}
DISPUTE_EVENTS = {
    "charge.dispute.created": "dispute",
    "charge.dispute.updated": "dispute",
    "charge.dispute.funds_withdrawn": "dispute",
    "charge.dispute.closed": "dispute",
    "charge.dispute.funds_reinstated": "dispute",
}
# Who a sale belongs to beyond its click: the customer created at sign-up with the click id (a lead),
# the promotion code a customer typed, and the discounts that carry it onto invoices.
ATTRIBUTION_EVENTS = {
    "customer.created": "customer",
    "customer.updated": "customer",
    "customer.subscription.created": "subscription",
    "promotion_code.created": "promotion_code",
    "promotion_code.updated": "promotion_code",
    "customer.discount.created": "discount",
    "customer.discount.updated": "discount",
}
CONSUMED_EVENTS: dict[str, str] = {**PAYMENT_EVENTS, **REFUND_EVENTS, **DISPUTE_EVENTS, **ATTRIBUTION_EVENTS}
# The one list of event types the product reads (the README's subscribe list is this tuple).
CONSUMED_EVENT_TYPES: tuple[str, ...] = tuple(CONSUMED_EVENTS)

# The id prefix of the events `attro stripe backfill` makes from object snapshots. Stripe's own event
# ids are `evt_` and letters and digits only, so no delivered event has it.
BACKFILL_EVENT_PREFIX = "evt_backfill_"


# staging.stripe_objects: one row per consumed event, the `data.object` fields the rules read.
# Column → (JSON path under `data.object`, type). A `[*]` path reads a list: `sum` adds its integers,
# `first` takes its first non-null string. Integers must be JSON integers; a value of another JSON
# type, or out of range, quarantines the event with the reason (staging.rejected_events).
INT, TEXT, SUM, FIRST, TIME = "int", "text", "sum", "first", "time"
RAW_FIRST = "raw_first"  # a list's first element as its JSON text (ids or objects, as the API version has it)
STRIPE_OBJECT_FIELDS: dict[str, tuple[str, str]] = {
    "obj_id": ("id", TEXT),
    "mode": ("mode", TEXT),
    "status": ("status", TEXT),
    "payment_status": ("payment_status", TEXT),
    "billing_reason": ("billing_reason", TEXT),
    "currency": ("currency", TEXT),
    "customer": ("customer", TEXT),
    "email": ("email", TEXT),  # a customer object's
    "customer_email": ("customer_email", TEXT),
    "customer_details_email": ("customer_details.email", TEXT),
    "billing_details_email": ("billing_details.email", TEXT),
    "receipt_email": ("receipt_email", TEXT),
    "invoice": ("invoice", TEXT),
    "subscription": ("subscription", TEXT),
    "payment_intent": ("payment_intent", TEXT),
    "charge": ("charge", TEXT),
    "payment_payment_intent": ("payment.payment_intent", TEXT),  # invoice_payment
    "payment_charge": ("payment.charge", TEXT),
    "amount": ("amount", INT),
    "amount_total": ("amount_total", INT),
    "amount_paid": ("amount_paid", INT),
    "total": ("total", INT),  # an invoice's, tax included: more than amount_paid when credit paid part
    "amount_received": ("amount_received", INT),
    "amount_captured": ("amount_captured", INT),  # a charge's: less than `amount` when partly captured
    "captured": ("captured", TEXT),  # a charge's: "false" while the card is only authorized
    "amount_refunded": ("amount_refunded", INT),
    "amount_tax": ("total_details.amount_tax", INT),
    "tax": ("tax", INT),
    "total_taxes": ("total_taxes[*].amount", SUM),
    "total_tax_amounts": ("total_tax_amounts[*].amount", SUM),
    "created": ("created", TIME),
    "paid_at": ("status_transitions.paid_at", TIME),
    "metadata_click_id": ("metadata.rd_click_id", TEXT),
    "metadata_affiliate": ("metadata.rd_affiliate", TEXT),  # a promotion code's affiliate
    "metadata_offer": ("metadata.rd_offer", TEXT),  # ... and offer
    "client_reference_id": ("client_reference_id", TEXT),
    "subscription_details_click_id": ("subscription_details.metadata.rd_click_id", TEXT),
    "parent_subscription": ("parent.subscription_details.subscription", TEXT),
    "parent_click_id": ("parent.subscription_details.metadata.rd_click_id", TEXT),
    "lines_click_id": ("lines.data[*].metadata.rd_click_id", FIRST),
    "promotion_code": ("promotion_code", TEXT),  # a discount object's
    "discount_promotion_code": ("discount.promotion_code", TEXT),  # invoices before 2025-03-31
    # Checkout Sessions: [{promotion_code, ...}]; invoices from 2025-03-31: discount ids ["di_..."]
    "discounts_first": ("discounts[*]", RAW_FIRST),
    "code": ("code", TEXT),  # a promotion code object's
}

# An object of a kind lacking one of these cannot be read by the rules: quarantined with the reason.
REQUIRED_OBJECT_FIELDS = {
    "refund": ("obj_id", "currency", "amount", "status"),
    "dispute": ("obj_id", "currency", "amount", "status", "charge"),
    "checkout.session": ("obj_id", "currency", "payment_status"),
    "invoice": ("obj_id", "currency", "amount_paid"),
    "invoice_payment": ("invoice", "currency", "amount_paid"),
    "charge": ("obj_id", "currency", "amount"),
    "payment_intent": ("obj_id", "currency", "amount_received"),
    "customer": ("obj_id",),
    "subscription": ("obj_id", "customer"),
    "promotion_code": ("obj_id",),
    "discount": ("obj_id",),
}
