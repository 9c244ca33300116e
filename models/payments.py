"""Payments: one row per real money movement, whichever events reported it, in any order.

Keying rule (DESIGN §4): a subscription payment is its invoice, a one-time payment is its
PaymentIntent, a charge with neither is its charge. Every event names some of the ids of the
payment it reports (session, invoice, PaymentIntent, charge); events that share an id report the
same payment, so a payment is a connected component of that id graph. A subscription Checkout
Session that does not name its invoice is tied to the subscription's first invoice.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix, csgraph

from core.contracts import PAYMENT, conform
from models.codes import with_promotion_codes
from models.objects import Objects

_ID_COLUMNS = ("session_id", "invoice_id", "payment_intent_id", "charge_id")

_BILLING_REASONS = {
    "subscription_create": "subscription_create",
    "subscription": "subscription_create",  # name used by very old API versions
    "subscription_cycle": "subscription_cycle",
    "subscription_threshold": "subscription_cycle",
    "subscription_update": "subscription_update",
}


def _links(obs: pl.DataFrame) -> list[pl.Expr]:
    """Per id an observation can share with another: the lowest `obs` naming the same value (or null).

    The ids are the session, invoice, PaymentIntent and charge, and the subscription's first invoice,
    which a subscription Checkout Session and the subscription_create invoice both name.
    """
    first_invoice = pl.when(
        (
            ((pl.col("object_kind") == "checkout.session") & (pl.col("checkout_mode") == "subscription"))
            | ((pl.col("object_kind") == "invoice") & (pl.col("billing_reason") == "subscription_create"))
        )
        & pl.col("subscription_id").is_not_null()
    ).then(pl.col("subscription_id"))
    keys = [pl.col(c) for c in _ID_COLUMNS] + [first_invoice]
    return [pl.when(key.is_not_null()).then(pl.col("obs").min().over(key)) for key in keys]


def components(obs: pl.DataFrame) -> pl.Series:
    """Each observation's payment: the connected component of the graph in which observations that
    share an id are linked (scipy's connected_components over integers), as scipy numbers it
    (`component_no`). An integer groups several times faster than a text label, but the number depends
    on the order observations came in: where an order between components matters, the smallest event
    id of each is its label (match_unlinked_charges).
    `obs` holds an `obs` column numbering its rows 0..n-1."""
    links = obs.select("obs", *(link.alias(f"link_{i}") for i, link in enumerate(_links(obs))))
    edges = links.unpivot(index="obs", value_name="to").drop_nulls("to")
    size = obs.height
    graph = coo_matrix(
        (np.ones(edges.height, dtype=np.int8), (edges["obs"].to_numpy(), edges["to"].to_numpy())),
        shape=(size, size),
    )
    _count, component = csgraph.connected_components(graph, directed=False)
    return pl.Series("component_no", component)


_SOURCE_ORDER = ["source_rank", "event_created_at", "event_id"]


def _first(column: str) -> pl.Expr:
    """First non-null value in the component, most authoritative source first (order-independent).

    The observations are sorted by _SOURCE_ORDER (once, in build_payments) before grouping: a group
    keeps its rows' order.
    """
    return pl.col(column).first(ignore_nulls=True)


# A subscription charge from API 2025-03-31 on names no invoice; without `invoice_payment.paid` it is
# matched to the invoice of the same customer, amount and currency paid within this window.
CHARGE_MATCH_WINDOW_SECONDS = 15 * 60

_CLICK_SOURCES = [
    ("metadata", "metadata_click_id"),
    ("client_reference_id", "client_reference_id"),
    ("subscription_metadata", "subscription_metadata_click_id"),
]


def _component_summary(obs: pl.DataFrame) -> pl.DataFrame:
    """Per component, what matching a charge reads (`obs` sorted by _SOURCE_ORDER)."""
    confirmed = pl.col("confirms_payment")
    return obs.group_by("component_no").agg(
        has_invoice=pl.col("invoice_id").is_not_null().any(),
        has_session=pl.col("session_id").is_not_null().any(),
        has_money_ids=(pl.col("payment_intent_id").is_not_null() | pl.col("charge_id").is_not_null()).any(),
        confirmed=confirmed.any(),
        customer_id=_first("customer_id"),
        currency=_first("currency"),
        amount_minor=_first("confirmed_amount_minor"),
        livemode=pl.col("livemode").any(),
        # the payment's own time (its most authoritative source's, as occurred_at), and when the event
        # that confirmed it came: a bank debit's charge is created days before it settles, and
        # `charge.succeeded` then comes when the invoice is paid
        paid_at=_first("confirmed_paid_at"),
        confirmed_at=pl.col("confirmed_event_at").max(),
    )


def match_unlinked_charges(obs: pl.DataFrame) -> pl.DataFrame:
    """Pairs (component_no → matched_no: the invoice's) for charges that name no invoice (see module
    doc). One-to-one, in time order (ties by the components' labels, never by their numbers: the
    pairing does not depend on the order observations came in); only when customer, currency, amount
    and mode agree. `obs` is sorted by _SOURCE_ORDER.
    """
    summary = _component_summary(obs).filter(
        pl.col("confirmed") & pl.col("customer_id").is_not_null() & pl.col("amount_minor").is_not_null()
    )
    invoices = summary.filter(pl.col("has_invoice") & ~pl.col("has_money_ids"))
    charges = summary.filter(~pl.col("has_invoice") & ~pl.col("has_session") & pl.col("has_money_ids"))
    keys = ["customer_id", "currency", "amount_minor", "livemode"]
    window = pl.duration(seconds=CHARGE_MATCH_WINDOW_SECONDS)
    candidates = (
        charges.select(*keys, "component_no", "paid_at", "confirmed_at")
        # a charge confirmed well after it was created (a bank debit settling days later) was paid when
        # it was confirmed: that time, for the gap and the order both (by its creation it took the
        # invoice of another same-amount subscription paid by card that day)
        .with_columns(
            paid_at=pl.when(pl.col("confirmed_at") - pl.col("paid_at") > window)
            .then(pl.col("confirmed_at"))
            .otherwise(pl.col("paid_at"))
        )
        .join(invoices.select(*keys, matched_no="component_no", invoice_paid_at="paid_at"), on=keys)
        .with_columns(
            gap=pl.min_horizontal(
                (pl.col("paid_at") - pl.col("invoice_paid_at")).abs(),
                (pl.col("confirmed_at") - pl.col("invoice_paid_at")).abs(),
            )
        )
        .filter(pl.col("gap") <= window)
    )
    # each candidate component's label, its smallest event id: whatever order the events came in
    involved = pl.concat([candidates["component_no"], candidates["matched_no"]]).unique()
    labels = (
        obs.lazy()
        .filter(pl.col("component_no").is_in(involved.implode()))
        .group_by("component_no")
        .agg(label=pl.col("event_id").min())
        .collect()
    )
    candidates = (
        candidates.join(labels, on="component_no")
        .join(labels.select(matched_no="component_no", invoice_label="label"), on="matched_no")
        # in time order: each charge takes the earliest invoice still free (two look-alike
        # subscriptions renewing seconds apart keep their own charges)
        .sort("paid_at", "invoice_paid_at", "label", "invoice_label")
    )
    taken_charges: set[int] = set()
    taken_invoices: set[int] = set()
    pairs = []
    for charge, invoice in candidates.select("component_no", "matched_no").iter_rows():
        if charge in taken_charges or invoice in taken_invoices:
            continue
        taken_charges.add(charge)
        taken_invoices.add(invoice)
        pairs.append({"component_no": charge, "matched_no": invoice})
    number = obs.schema["component_no"]
    return pl.DataFrame(pairs, schema={"component_no": number, "matched_no": number})


def _checkout_of_subscriptions(obs: pl.DataFrame) -> pl.DataFrame:
    """Per subscription: when its Checkout Session completed, and the click id the session carried.

    The session of a trial links only to the $0 first invoice, which is no payment; its click id
    still belongs to the subscription.
    """
    sessions = obs.filter(
        (pl.col("object_kind") == "checkout.session")
        & (pl.col("checkout_mode") == "subscription")
        & pl.col("subscription_id").is_not_null()
    ).sort("event_created_at", "event_id")
    click = pl.coalesce("metadata_click_id", "client_reference_id")
    source = (
        pl.when(pl.col("metadata_click_id").is_not_null())
        .then(pl.lit("metadata"))
        .when(pl.col("client_reference_id").is_not_null())
        .then(pl.lit("client_reference_id"))
    )
    return (
        sessions.with_columns(session_click=click, session_click_source=source)
        .group_by("subscription_id")
        .agg(
            pl.col("event_created_at").min().alias("subscription_checkout_at"),
            pl.col("session_click").drop_nulls().first(),
            pl.col("session_click_source").drop_nulls().first(),
        )
    )


# Columns build_payments adds beside marts.payments' own, for linking money back; not published.
CHARGE_IDS, INTENT_IDS = "charge_ids", "payment_intent_ids"
_LINKED_PAYMENT = PAYMENT | {CHARGE_IDS: pl.List(pl.String), INTENT_IDS: pl.List(pl.String)}


def build_payments(observations: pl.DataFrame, objects: Objects | None = None) -> pl.DataFrame:
    """Group payment observations into payments; components with no confirming event are not payments.

    With the staged `objects`, each payment's promotion code is resolved (models/codes.py). Beside the
    PAYMENT columns: CHARGE_IDS and INTENT_IDS, every charge and PaymentIntent of each payment."""
    if observations.is_empty():
        return pl.DataFrame(schema=_LINKED_PAYMENT)
    obs = observations.with_row_index("obs")
    obs = (
        obs.with_columns(components(obs))
        .with_columns(
            confirmed_amount_minor=pl.when(pl.col("confirms_payment")).then(pl.col("amount_minor")),
            confirmed_paid_at=pl.when(pl.col("confirms_payment")).then(pl.col("paid_at")),
            confirmed_event_at=pl.when(pl.col("confirms_payment")).then(pl.col("event_created_at")),
        )
        .sort(_SOURCE_ORDER)  # once: every grouping below keeps this order within a group (_first)
    )
    matched = match_unlinked_charges(obs)
    charge = pl.col("component_no")  # a matched charge's component joins its invoice's
    obs = obs.with_columns(
        heuristic=charge.is_in(matched["component_no"].implode()),
        component_no=charge.replace(matched["component_no"], matched["matched_no"]),
    )
    grouped = obs.group_by("component_no").agg(
        pl.col("confirms_payment").any().alias("is_payment"),
        pl.col("heuristic").any(),
        # the most authoritative source's time: an async charge is created days before it settles;
        # a payment seen only through snapshots that name no paid time: its confirming event's
        pl.coalesce(_first("confirmed_paid_at"), _first("confirmed_event_at")).alias("occurred_at"),
        pl.col("livemode").any(),
        _first("customer_id"),
        _first("customer_email"),
        _first("subscription_id"),
        _first("invoice_id"),
        _first("payment_intent_id"),
        _first("session_id").alias("checkout_session_id"),
        _first("charge_id"),
        _first("billing_reason").alias("invoice_billing_reason"),
        _first("checkout_mode"),
        _first("confirmed_amount_minor").alias("amount_minor"),
        _first("tax_minor"),
        _first("currency"),
        *(_first(column).alias(f"click_{name}") for name, column in _CLICK_SOURCES),
        _first("promotion_code_id"),
        _first("discount_id"),
        # when the customer checked out: an async (bank debit) session completes unpaid days before
        # the money settles, and the attribution window counts to the checkout
        pl.col("event_created_at")
        .filter(pl.col("event_type") == "checkout.session.completed")
        .min()
        .alias("session_completed_at"),
        pl.col("event_id").unique().sort().alias("source_event_ids"),
        # every charge and PaymentIntent of the payment (an invoice paid in parts has several): a
        # refund or dispute of any of them is this payment's (models/money_back.py)
        pl.col("charge_id").drop_nulls().unique().sort().alias(CHARGE_IDS),
        pl.col("payment_intent_id").drop_nulls().unique().sort().alias(INTENT_IDS),
    )
    payments = grouped.filter(pl.col("is_payment"))
    click_id = pl.coalesce(*(pl.col(f"click_{name}") for name, _ in _CLICK_SOURCES))
    click_source = pl.coalesce(
        *(pl.when(pl.col(f"click_{name}").is_not_null()).then(pl.lit(name)) for name, _ in _CLICK_SOURCES)
    )
    is_subscription = pl.col("subscription_id").is_not_null()
    payment_id = (
        pl.when(is_subscription & pl.col("invoice_id").is_not_null())
        .then(pl.col("invoice_id"))
        .otherwise(pl.coalesce("payment_intent_id", "invoice_id", "charge_id", "checkout_session_id"))
    )
    billing_reason = (
        pl.when(is_subscription)
        .then(
            # a subscription payment seen only through its Checkout Session is the first one
            pl.when(pl.col("invoice_billing_reason").is_null())
            .then(pl.lit("subscription_create"))
            .otherwise(
                pl.col("invoice_billing_reason").replace_strict(
                    _BILLING_REASONS, default="subscription_cycle"
                )
            )
        )
        .when(pl.col("checkout_session_id").is_not_null() | pl.col("invoice_id").is_null())
        .then(pl.lit("one_time"))
        .otherwise(pl.lit("manual"))
    )
    payments = payments.with_columns(
        payment_id=payment_id,
        billing_reason=billing_reason,
        tax_minor=pl.col("tax_minor").fill_null(0),
        click_id=click_id,
        click_id_source=click_source,
        match_method=pl.when(pl.col("heuristic"))
        .then(pl.lit("customer_amount_time"))
        .otherwise(pl.lit("shared_id")),
    )
    # A subscription's first payment without a click id of its own takes its checkout's (trials).
    checkout = _checkout_of_subscriptions(obs)
    first_of_subscription = (
        pl.col("occurred_at") == pl.col("occurred_at").min().over("subscription_id")
    ) & is_subscription
    payments = payments.join(checkout, on="subscription_id", how="left").with_columns(
        click_id_source=pl.when(pl.col("click_id").is_null() & first_of_subscription)
        .then(pl.col("session_click_source"))
        .otherwise(pl.col("click_id_source")),
        click_id=pl.when(pl.col("click_id").is_null() & first_of_subscription)
        .then(pl.col("session_click"))
        .otherwise(pl.col("click_id")),
        checkout_completed_at=pl.when(is_subscription)
        .then(pl.col("subscription_checkout_at"))
        .when(pl.col("checkout_session_id").is_not_null())
        .then(pl.min_horizontal("session_completed_at", "occurred_at")),
    )
    if objects is not None:
        payments = with_promotion_codes(payments, objects)
    return conform(payments, _LINKED_PAYMENT).sort("occurred_at", "payment_id")
