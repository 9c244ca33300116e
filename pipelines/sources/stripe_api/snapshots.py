"""Object snapshots as events: each object a backfill reads becomes the event that would have reported
it, so staging and the rules read backfilled history exactly like webhooks.

A snapshot event's id is `evt_backfill_<object id>` (a dispute's money movements add the balance
transaction's id), its type the event of the state the object is in (`invoice.paid`,
`charge.succeeded`, ...), its `data.object` the object as the API returned it, and its `created` the
time the object reached that state (an invoice's `status_transitions.paid_at`, a charge's `created`,
a dispute's balance transactions). It says `attro_source: "backfill"`. An object that reports nothing
yet (an open invoice, a failed charge, an expired session) gives no event: its webhook or a later
sync will. The rules read a snapshot only where no delivered event reported the same object in the
same way (models/snapshots.py), so history backfilled over days webhooks also delivered counts once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.contracts import BACKFILL_EVENT_PREFIX

# Snapshots dated before the object listed with them (a discount by its start, before the invoice): a
# backfill from a later `since` meets them again, so it looks for them among events of any time.
DATED_EARLIER = ("customer.discount.created",)

StripeObject = dict[str, Any]
Event = dict[str, Any]


def _time(obj: StripeObject, *paths: str) -> int | None:
    """The first of `paths` (dotted) holding an integer time."""
    for path in paths:
        value: Any = obj
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


@dataclass(frozen=True)
class Reading:
    """How the objects were read: the API version they are rendered in, and the key's mode (objects
    such as refunds carry no `livemode` of their own; a live key reads live objects)."""

    api_version: str
    livemode: bool


def snapshot_event(
    obj: StripeObject, event_type: str, created: int, reading: Reading, suffix: str = ""
) -> Event:
    """The synthetic event reporting `obj` as `event_type` at `created`."""
    livemode = obj.get("livemode")
    return {
        "id": f"{BACKFILL_EVENT_PREFIX}{obj['id']}{suffix}",
        "object": "event",
        "api_version": reading.api_version,
        "created": created,
        "data": {"object": obj},
        "livemode": livemode if isinstance(livemode, bool) else reading.livemode,
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "attro_source": "backfill",
    }


def _when(status: str, event_type: str, *times: str) -> Callable[[StripeObject, Reading], list[Event]]:
    """One event of `event_type` when the object's status is `status` (any status when empty)."""

    def events(obj: StripeObject, reading: Reading) -> list[Event]:
        created = _time(obj, *times, "created")
        if (status and obj.get("status") != status) or created is None:
            return []
        return [snapshot_event(obj, event_type, created, reading)]

    return events


def _dispute(obj: StripeObject, reading: Reading) -> list[Event]:
    """A dispute's money movements: a withdrawal (`funds_withdrawn`) and, when won, a reinstatement
    (`funds_reinstated`), each at its balance transaction's time; an inquiry with none is `created`."""
    events = []
    for txn in obj.get("balance_transactions") or []:
        created, amount = (
            (_time(txn, "created"), txn.get("amount")) if isinstance(txn, dict) else (None, None)
        )
        if created is None or not isinstance(amount, int) or amount == 0:
            continue
        event_type = "charge.dispute.funds_withdrawn" if amount < 0 else "charge.dispute.funds_reinstated"
        events.append(snapshot_event(obj, event_type, created, reading, f"_{txn.get('id') or created}"))
    created = _time(obj, "created")
    if not events and created is not None:
        events.append(snapshot_event(obj, "charge.dispute.created", created, reading))
    return events


_paid_invoice = _when("paid", "invoice.paid", "status_transitions.paid_at")


def _invoice(obj: StripeObject, reading: Reading) -> list[Event]:
    """A paid invoice (`invoice.paid`), and each discount it was listed with expanded as the
    `customer.discount.created` that would have reported it; the invoice names them by id, as the
    webhooks' invoices do."""
    discounts = obj.get("discounts")
    if not isinstance(discounts, list) or not any(isinstance(d, dict) for d in discounts):
        return _paid_invoice(obj, reading)
    as_ids = [d.get("id") if isinstance(d, dict) else d for d in discounts]
    events = []
    for discount in discounts:
        created = _time(discount, "start") if isinstance(discount, dict) else None
        if created is not None and isinstance(discount.get("id"), str):
            events.append(snapshot_event(discount, DATED_EARLIER[0], created, reading))
    return events + _paid_invoice({**obj, "discounts": as_ids}, reading)


# Stripe object type → its events. Subscriptions are kept in raw only: the rules read a subscription's
# metadata from its invoices (`parent.subscription_details`, `subscription_details`, lines).
SNAPSHOTS: dict[str, Callable[[StripeObject, Reading], list[Event]]] = {
    "checkout.session": _when("complete", "checkout.session.completed"),
    "invoice": _invoice,
    "invoice_payment": _when("paid", "invoice_payment.paid", "status_transitions.paid_at"),
    "charge": _when("succeeded", "charge.succeeded"),
    "payment_intent": _when("succeeded", "payment_intent.succeeded"),
    "refund": _when("", "refund.created"),  # whatever its status: the rules read it
    "dispute": _dispute,
    "subscription": _when("", "customer.subscription.created"),
    "promotion_code": _when("", "promotion_code.created"),  # its text and rd_affiliate metadata
    "customer": _when("", "customer.created"),  # a lead when its metadata has the click id
}


def snapshot_events(obj: StripeObject, reading: Reading) -> list[Event]:
    """The events that report `obj` (as the API returned it); [] when it reports nothing yet."""
    to_events = SNAPSHOTS.get(obj.get("object", ""))
    if to_events is None or not isinstance(obj.get("id"), str):
        return []
    return to_events(obj, reading)
