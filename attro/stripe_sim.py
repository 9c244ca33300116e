"""Stripe event simulator: realistic webhook events on real Stripe payload shapes, signed."""

from __future__ import annotations

import calendar
import hashlib
import hmac
import json
import random
import string
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

BASIL = "2025-03-31.basil"
LEGACY = "2020-03-02"

# Dates (YYYY-MM-DD prefix of an api_version) where a payload shape changed.
_BASIL_SINCE = "2025-03-31"  # invoice.parent, invoice_payment; charge/PI lose `invoice`
_SUBSCRIPTION_DETAILS_SINCE = "2023-08-16"  # invoice.subscription_details.metadata appears
_CHARGE_LISTS_UNTIL = "2022-11-15"  # charge.refunds / payment_intent.charges no longer included

_ALNUM = string.ascii_letters + string.digits
_NAMES = ["ada", "ben", "chloe", "dev", "emma", "femi", "gus", "hana", "ivan", "jules", "kofi"]
_DOMAINS = ["example.com", "example.org", "mail.example.net"]

Event = dict[str, Any]
ClickVia = Literal["metadata", "client_reference_id"]
SubscriptionVia = Literal["client_reference_id", "metadata", "subscription_metadata"]


def is_basil(api_version: str) -> bool:
    """True for API versions from 2025-03-31 (basil) on, whose invoice/charge shapes differ."""
    return api_version[:10] >= _BASIL_SINCE


def sign_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send for this body: `t=<unix>,v1=<hex>`."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + payload, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def encode(event: Event) -> bytes:
    """The request body as Stripe sends it: indented JSON, non-ASCII kept as UTF-8."""
    return json.dumps(event, indent=2, ensure_ascii=False).encode("utf-8")


def signed_request(event: Event, secret: str, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """Body and headers of one webhook delivery of `event`, ready to POST."""
    body = encode(event)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": sign_header(body, secret, timestamp),
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }
    return body, headers


def deliveries(
    events: list[Event],
    *,
    rng: random.Random,
    duplicate_share: float = 0.0,
    shuffle: bool = False,
) -> list[Event]:
    """Stripe-like delivery: each event once, some twice (same object), optionally in any order.

    Without `shuffle` the originals keep their order and a duplicate (a retry) lands somewhere
    after its original.
    """
    out = list(events)
    for event in events:
        if duplicate_share > 0 and rng.random() < duplicate_share:
            first = next(i for i, e in enumerate(out) if e is event)
            out.insert(rng.randint(first + 1, len(out)), event)
    if shuffle:
        rng.shuffle(out)
    return out


def _ordered(obj: dict[str, Any]) -> dict[str, Any]:
    """Keys as Stripe serialises them: id and object first, then alphabetical."""
    head = {k: obj[k] for k in ("id", "object") if k in obj}
    return head | {k: obj[k] for k in sorted(obj) if k not in head}


def _unix(at: datetime) -> int:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp())


def _add_months(at: datetime, months: int) -> datetime:
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


class _Clock:
    """Event times inside one flow: starts at `at`, moves a few seconds per event."""

    def __init__(self, at: datetime, rng: random.Random) -> None:
        self.now = _unix(at)
        self._rng = rng

    def tick(self) -> int:
        self.now += self._rng.randint(1, 4)
        return self.now


@dataclass
class Subscription:
    """A simulated subscription: what later renewals, upgrades and zero invoices need."""

    id: str
    customer: str
    email: str
    currency: str
    amount_minor: int
    tax_minor: int
    livemode: bool
    metadata: dict[str, str]
    started_at: datetime
    price: str
    product: str
    item: str
    click_id: str | None = None  # set when the click id rides in the subscription's metadata
    invoices: list[str] = field(default_factory=list)
    period_start: int = 0  # unix start of the current billing period


@dataclass
class Flow:
    """The events of one simulated Stripe flow, in Stripe's natural order, and the ids it made."""

    events: list[Event]
    api_version: str
    customer: str | None = None
    session: str | None = None
    payment_intent: str | None = None
    charge: str | None = None
    invoice: str | None = None
    subscription: str | None = None
    sub: Subscription | None = None
    refund: str | None = None
    dispute: str | None = None

    def types(self) -> list[str]:
        """Event types in order."""
        return [e["type"] for e in self.events]

    def first(self, event_type: str) -> Event:
        """The first event of this type (KeyError when the flow has none)."""
        for event in self.events:
            if event["type"] == event_type:
                return event
        raise KeyError(event_type)


@dataclass
class _Charge:
    """What the simulator remembers about a charge so later refunds/disputes re-render it."""

    id: str
    amount: int
    currency: str
    customer: str | None
    email: str | None
    payment_intent: str | None
    invoice: str | None
    description: str | None
    metadata: dict[str, str]
    created: int
    livemode: bool
    payment_method: str
    balance_transaction: str
    last4: str
    amount_refunded: int = 0
    refunds: list[dict[str, Any]] = field(default_factory=list)
    disputed: bool = False
    async_method: bool = False


@dataclass
class _Dispute:
    id: str
    charge: str
    amount: int
    created: int
    withdrawal_txn: str
    reinstatement_txn: str = ""
    status: str = "needs_response"


@dataclass
class _Invoice:
    """Inputs of one invoice; rendered per API version."""

    id: str
    customer: str
    email: str
    currency: str
    total: int
    tax: int
    billing_reason: str
    created: int
    paid_at: int
    livemode: bool
    number: str
    lines: list[dict[str, Any]]
    period_start: int
    period_end: int
    subscription: Subscription | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    charge: str | None = None
    payment_intent: str | None = None
    tax_rate: str | None = None
    url_token: str = ""


class StripeSim:
    """Plays Stripe: builds the webhook events of payment flows, deterministic given `seed`."""

    def __init__(self, seed: int = 0, api_version: str = BASIL, livemode: bool = False) -> None:
        self.api_version = api_version
        self.livemode = livemode
        self._rng = random.Random(seed)
        self._emails: dict[str, str] = {}
        self._charges: dict[str, _Charge] = {}
        self._disputes: dict[str, _Dispute] = {}
        self._invoice_count = 0
        self._account = "acct_1" + self._rand(15)
        self._tax_rate = "txr_1" + self._rand(23)

    # ids and small helpers -------------------------------------------------------------

    def _rand(self, n: int) -> str:
        return "".join(self._rng.choice(_ALNUM) for _ in range(n))

    def new_id(self, prefix: str, n: int = 24) -> str:
        """A Stripe-looking id: `prefix_` then `n` alphanumerics (e.g. `evt_1Rm...`)."""
        return f"{prefix}_{self._rand(n)}"

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def new_customer(self, email: str | None = None) -> str:
        """A new customer id (cus_ + 14 characters, like Stripe's) with a remembered email."""
        cus = self.new_id("cus", 14)
        if email is None:
            name = self._rng.choice(_NAMES)
            email = f"{name}.{self._rand(5).lower()}@{self._rng.choice(_DOMAINS)}"
        self._emails[cus] = email
        return cus

    def _customer(self, customer: str | None, email: str | None) -> tuple[str, str]:
        if customer is None:
            customer = self.new_customer(email)
        elif customer not in self._emails or email is not None:
            self._emails[customer] = email or f"{customer.lower()}@example.com"
        return customer, self._emails[customer]

    def _session_id(self, livemode: bool) -> str:
        return f"cs_{'live' if livemode else 'test'}_{self._rng.choice('ab')}1{self._rand(56)}"

    def _api(self, api_version: str | None) -> str:
        return api_version or self.api_version

    def _live(self, livemode: bool | None) -> bool:
        return self.livemode if livemode is None else livemode

    def _request(self, api_call: bool) -> dict[str, str | None]:
        if api_call:
            return {"id": self.new_id("req", 14), "idempotency_key": self._uuid()}
        return {"id": None, "idempotency_key": None}

    # the event envelope ----------------------------------------------------------------

    def envelope(
        self,
        obj: dict[str, Any],
        type: str,
        at: datetime | int,
        *,
        api_version: str | None = None,
        livemode: bool | None = None,
        previous_attributes: dict[str, Any] | None = None,
        api_call: bool = False,
    ) -> Event:
        """Wrap an object as a Stripe event of `type` created at `at` (datetime or unix)."""
        data: dict[str, Any] = {"object": obj}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        return {
            "id": "evt_" + self._rng.choice("123") + self._rand(23),
            "object": "event",
            "api_version": self._api(api_version),
            "created": at if isinstance(at, int) else _unix(at),
            "data": data,
            "livemode": obj.get("livemode", self._live(livemode)),
            "pending_webhooks": 1,
            "request": self._request(api_call),
            "type": type,
        }

    # object renderers ------------------------------------------------------------------

    def _new_charge(
        self,
        *,
        amount: int,
        currency: str,
        customer: str | None,
        email: str | None,
        payment_intent: str | None,
        invoice: str | None,
        description: str | None,
        metadata: dict[str, str],
        created: int,
        livemode: bool,
        async_method: bool = False,
    ) -> _Charge:
        ch = _Charge(
            id="ch_3" + self._rand(23),
            amount=amount,
            currency=currency,
            customer=customer,
            email=email,
            payment_intent=payment_intent,
            invoice=invoice,
            description=description,
            metadata=dict(metadata),
            created=created,
            livemode=livemode,
            payment_method="pm_1" + self._rand(23),
            balance_transaction="txn_3" + self._rand(23),
            last4=self._rng.choice(["4242", "0077", "1881", "5556", "4444"]),
            async_method=async_method,
        )
        self._charges[ch.id] = ch
        return ch

    def _charge_obj(self, ch: _Charge, api: str, status: str = "succeeded") -> dict[str, Any]:
        succeeded = status == "succeeded"
        if ch.async_method:
            method_details: dict[str, Any] = {
                "type": "us_bank_account",
                "us_bank_account": {
                    "account_holder_type": "individual",
                    "account_type": "checking",
                    "bank_name": "STRIPE TEST BANK",
                    "last4": "6789",
                    "routing_number": "110000000",
                },
            }
        else:
            method_details = {
                "card": {
                    "brand": "visa",
                    "checks": {
                        "address_line1_check": None,
                        "address_postal_code_check": None,
                        "cvc_check": "pass",
                    },
                    "country": "US",
                    "exp_month": 12,
                    "exp_year": 2030,
                    "funding": "credit",
                    "last4": ch.last4,
                    "network": "visa",
                    "three_d_secure": None,
                    "wallet": None,
                },
                "type": "card",
            }
        obj: dict[str, Any] = {
            "id": ch.id,
            "object": "charge",
            "amount": ch.amount,
            "amount_captured": ch.amount if status != "failed" else 0,
            "amount_refunded": ch.amount_refunded,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": ch.balance_transaction if succeeded else None,
            "billing_details": {
                "address": {
                    "city": None,
                    "country": "US",
                    "line1": None,
                    "line2": None,
                    "postal_code": "94107",
                    "state": None,
                },
                "email": ch.email,
                "name": None,
                "phone": None,
            },
            "calculated_statement_descriptor": "ATTRO DEMO",
            "captured": status != "failed",
            "created": ch.created,
            "currency": ch.currency,
            "customer": ch.customer,
            "description": ch.description,
            "disputed": ch.disputed,
            "failure_balance_transaction": None,
            "failure_code": "insufficient_funds" if status == "failed" else None,
            "failure_message": "Insufficient funds." if status == "failed" else None,
            "fraud_details": {},
            "livemode": ch.livemode,
            "metadata": dict(ch.metadata),
            "on_behalf_of": None,
            "outcome": {
                "network_status": "approved_by_network" if status != "failed" else "declined",
                "reason": None,
                "risk_level": "normal",
                "seller_message": "Payment complete." if succeeded else None,
                "type": "authorized" if status != "failed" else "issuer_declined",
            },
            "paid": succeeded,
            "payment_intent": ch.payment_intent,
            "payment_method": ch.payment_method,
            "payment_method_details": method_details,
            "receipt_email": ch.email,
            "receipt_number": None,
            "receipt_url": f"https://pay.stripe.com/receipts/payment/{self._account}/{ch.id}",
            "refunded": ch.amount > 0 and ch.amount_refunded >= ch.amount,
            "review": None,
            "shipping": None,
            "source": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": status,
            "transfer_data": None,
            "transfer_group": None,
        }
        if not is_basil(api):
            obj["invoice"] = ch.invoice
            obj["destination"] = None
            obj["dispute"] = None
            obj["order"] = None
        if api[:10] < _CHARGE_LISTS_UNTIL:
            obj["refunds"] = {
                "object": "list",
                "data": [dict(r) for r in reversed(ch.refunds)],
                "has_more": False,
                "total_count": len(ch.refunds),
                "url": f"/v1/charges/{ch.id}/refunds",
            }
        return _ordered(obj)

    def _payment_intent_obj(
        self,
        *,
        pi: str,
        amount: int,
        currency: str,
        customer: str | None,
        email: str | None,
        metadata: dict[str, str],
        created: int,
        livemode: bool,
        status: str,
        api: str,
        charge: _Charge | None,
        invoice: str | None = None,
        description: str | None = None,
        async_method: bool = False,
    ) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": pi,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": amount if status == "succeeded" else 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic_async" if is_basil(api) else "automatic",
            "client_secret": f"{pi}_secret_{self._rand(25)}",
            "confirmation_method": "automatic",
            "created": created,
            "currency": currency,
            "customer": customer,
            "description": description,
            "last_payment_error": None,
            "latest_charge": charge.id if charge else None,
            "livemode": livemode,
            "metadata": dict(metadata),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": charge.payment_method if charge else None,
            "payment_method_configuration_details": None,
            "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
            "payment_method_types": ["us_bank_account"] if async_method else ["card"],
            "processing": None,
            "receipt_email": email,
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "source": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": status,
            "transfer_data": None,
            "transfer_group": None,
        }
        if status == "requires_payment_method":
            obj["last_payment_error"] = {
                "code": "insufficient_funds",
                "message": "Insufficient funds.",
                "type": "card_error",
            }
        if not is_basil(api):
            obj["invoice"] = invoice
        if api[:10] < _CHARGE_LISTS_UNTIL:
            data = [self._charge_obj(charge, api, "succeeded")] if charge else []
            obj["charges"] = {
                "object": "list",
                "data": data,
                "has_more": False,
                "total_count": len(data),
                "url": f"/v1/charges?payment_intent={pi}",
            }
        return _ordered(obj)

    def _session_obj(
        self,
        *,
        cs: str,
        mode: str,
        amount: int,
        tax: int,
        currency: str,
        customer: str,
        email: str,
        created: int,
        livemode: bool,
        payment_status: str,
        client_reference_id: str | None,
        metadata: dict[str, str],
        payment_intent: str | None,
        invoice: str | None,
        subscription: str | None,
        payment_link: str | None,
        async_method: bool = False,
    ) -> dict[str, Any]:
        return {
            "id": cs,
            "object": "checkout.session",
            "adaptive_pricing": None,
            "after_expiration": None,
            "allow_promotion_codes": None,
            "amount_subtotal": amount - tax,
            "amount_total": amount,
            "automatic_tax": {
                "enabled": tax > 0,
                "liability": {"type": "self"} if tax > 0 else None,
                "provider": "stripe" if tax > 0 else None,
                "status": "complete" if tax > 0 else None,
            },
            "billing_address_collection": None,
            "cancel_url": None,
            "client_reference_id": client_reference_id,
            "client_secret": None,
            "collected_information": {"shipping_details": None},
            "consent": None,
            "consent_collection": None,
            "created": created,
            "currency": currency,
            "currency_conversion": None,
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "customer": customer,
            "customer_creation": "if_required" if mode == "payment" else None,
            "customer_details": {
                "address": {
                    "city": None,
                    "country": "US",
                    "line1": None,
                    "line2": None,
                    "postal_code": "94107",
                    "state": None,
                },
                "email": email,
                "name": None,
                "phone": None,
                "tax_exempt": "none",
                "tax_ids": [],
            },
            "customer_email": None,
            "discounts": [],
            "expires_at": created + 86400,
            "invoice": invoice,
            "invoice_creation": (
                {"enabled": False, "invoice_data": {"metadata": {}}} if mode == "payment" else None
            ),
            "livemode": livemode,
            "locale": None,
            "metadata": dict(metadata),
            "mode": mode,
            "payment_intent": payment_intent,
            "payment_link": payment_link,
            "payment_method_collection": "always" if mode == "subscription" else "if_required",
            "payment_method_configuration_details": None,
            "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
            "payment_method_types": ["us_bank_account"] if async_method else ["card", "link"],
            "payment_status": payment_status,
            "permissions": None,
            "phone_number_collection": {"enabled": False},
            "recovered_from": None,
            "saved_payment_method_options": {
                "allow_redisplay_filters": ["always"],
                "payment_method_remove": None,
                "payment_method_save": None,
            },
            "setup_intent": None,
            "shipping_address_collection": None,
            "shipping_cost": None,
            "shipping_options": [],
            "status": "complete",
            "submit_type": None,
            "subscription": subscription,
            "success_url": "https://yourapp.example.com/thanks",
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": tax},
            "ui_mode": "hosted",
            "url": None,
            "wallet_options": None,
        }

    def _line(
        self,
        inv: _Invoice,
        api: str,
        spec: dict[str, Any],
    ) -> dict[str, Any]:
        """One invoice line; `spec` has amount, description, proration, period (start, end)."""
        sub = inv.subscription
        amount, start, end = spec["amount"], spec["period"][0], spec["period"][1]
        base: dict[str, Any] = {
            "id": spec["id"],
            "object": "line_item",
            "amount": amount,
            "currency": inv.currency,
            "description": spec["description"],
            "discount_amounts": [],
            "discountable": True,
            "discounts": [],
            "livemode": inv.livemode,
            "metadata": {},
            "period": {"end": end, "start": start},
            "quantity": 1,
        }
        if is_basil(api):
            base["invoice"] = inv.id
            if sub is not None:
                parent: dict[str, Any] = {
                    "invoice_item_details": None,
                    "subscription_item_details": {
                        "invoice_item": None,
                        "proration": spec["proration"],
                        "proration_details": {"credited_items": None},
                        "subscription": sub.id,
                        "subscription_item": sub.item,
                    },
                    "type": "subscription_item_details",
                }
            else:
                parent = {
                    "invoice_item_details": {
                        "invoice_item": spec["invoice_item"],
                        "proration": False,
                        "proration_details": {"credited_items": None},
                        "subscription": None,
                    },
                    "subscription_item_details": None,
                    "type": "invoice_item_details",
                }
            base["parent"] = parent
            base["pretax_credit_amounts"] = []
            base["pricing"] = {
                "price_details": {
                    "price": sub.price if sub else spec["price"],
                    "product": sub.product if sub else spec["product"],
                },
                "type": "price_details",
                "unit_amount_decimal": str(amount),
            }
            base["taxes"] = (
                [
                    {
                        "amount": spec["tax"],
                        "tax_behavior": "exclusive",
                        "tax_rate_details": {"tax_rate": inv.tax_rate},
                        "taxability_reason": "standard_rated",
                        "taxable_amount": amount,
                        "type": "tax_rate_details",
                    }
                ]
                if spec["tax"]
                else []
            )
        else:
            price_id = sub.price if sub else spec["price"]
            product = sub.product if sub else spec["product"]
            base["price"] = {
                "id": price_id,
                "object": "price",
                "active": True,
                "billing_scheme": "per_unit",
                "currency": inv.currency,
                "livemode": inv.livemode,
                "metadata": {},
                "product": product,
                "recurring": (
                    {"interval": "month", "interval_count": 1, "usage_type": "licensed"} if sub else None
                ),
                "type": "recurring" if sub else "one_time",
                "unit_amount": sub.amount_minor - sub.tax_minor if sub else amount,
            }
            base["proration"] = spec["proration"]
            base["tax_amounts"] = (
                [
                    {
                        "amount": spec["tax"],
                        "inclusive": False,
                        "tax_rate": inv.tax_rate,
                        "taxability_reason": "standard_rated",
                        "taxable_amount": amount,
                    }
                ]
                if spec["tax"]
                else []
            )
            base["tax_rates"] = []
            if sub is not None:
                # Pre-2025 subscription lines carry the subscription's metadata.
                base["metadata"] = dict(sub.metadata)
                base["plan"] = {
                    "id": price_id,
                    "object": "plan",
                    "active": True,
                    "amount": base["price"]["unit_amount"],
                    "currency": inv.currency,
                    "interval": "month",
                    "interval_count": 1,
                    "livemode": inv.livemode,
                    "metadata": {},
                    "product": product,
                    "usage_type": "licensed",
                }
                base["subscription"] = sub.id
                base["subscription_item"] = sub.item
                base["type"] = "subscription"
            else:
                base["invoice_item"] = spec["invoice_item"]
                base["subscription"] = None
                base["type"] = "invoiceitem"
        return _ordered(base)

    def _invoice_obj(self, inv: _Invoice, api: str, *, paid: bool = True) -> dict[str, Any]:
        sub = inv.subscription
        url_token = inv.url_token
        obj: dict[str, Any] = {
            "id": inv.id,
            "object": "invoice",
            "account_country": "US",
            "account_name": "Attro Demo Shop",
            "account_tax_ids": None,
            "amount_due": inv.total,
            "amount_paid": inv.total if paid else 0,
            "amount_remaining": 0 if paid else inv.total,
            "attempt_count": 0 if inv.total == 0 else 1,
            "attempted": True,
            "auto_advance": False,
            "automatic_tax": {
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "billing_reason": inv.billing_reason,
            "collection_method": "charge_automatically",
            "created": inv.created,
            "currency": inv.currency,
            "custom_fields": None,
            "customer": inv.customer,
            "customer_address": None,
            "customer_email": inv.email,
            "customer_name": None,
            "customer_phone": None,
            "customer_shipping": None,
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discounts": [],
            "due_date": None,
            "ending_balance": 0,
            "footer": None,
            "hosted_invoice_url": f"https://invoice.stripe.com/i/{self._account}/{url_token}",
            "invoice_pdf": f"https://pay.stripe.com/invoice/{self._account}/{url_token}/pdf",
            "last_finalization_error": None,
            "lines": {
                "object": "list",
                "data": [self._line(inv, api, spec) for spec in inv.lines],
                "has_more": False,
                "total_count": len(inv.lines),
                "url": f"/v1/invoices/{inv.id}/lines",
            },
            "livemode": inv.livemode,
            "metadata": dict(inv.metadata),
            "next_payment_attempt": None,
            "number": inv.number,
            "on_behalf_of": None,
            "payment_settings": {
                "default_mandate": None,
                "payment_method_options": None,
                "payment_method_types": None,
            },
            "period_end": inv.period_end,
            "period_start": inv.period_start,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": None,
            "starting_balance": 0,
            "statement_descriptor": None,
            "status": "paid" if paid else "open",
            "status_transitions": {
                "finalized_at": inv.created,
                "marked_uncollectible_at": None,
                "paid_at": inv.paid_at if paid else None,
                "voided_at": None,
            },
            "subtotal": inv.total - inv.tax,
            "total": inv.total,
            "total_discount_amounts": [],
            "webhooks_delivered_at": None,
        }
        if is_basil(api):
            obj.update(
                {
                    "amount_overpaid": 0,
                    "amount_shipping": 0,
                    "application": None,
                    "automatically_finalizes_at": None,
                    "effective_at": inv.created,
                    "from_invoice": None,
                    "issuer": {"type": "self"},
                    "latest_revision": None,
                    "parent": (
                        {
                            "quote_details": None,
                            "subscription_details": {
                                "metadata": dict(sub.metadata),
                                "subscription": sub.id,
                            },
                            "type": "subscription_details",
                        }
                        if sub
                        else None
                    ),
                    "rendering": None,
                    "shipping_cost": None,
                    "shipping_details": None,
                    "subtotal_excluding_tax": inv.total - inv.tax,
                    "test_clock": None,
                    "total_excluding_tax": inv.total - inv.tax,
                    "total_pretax_credit_amounts": [],
                    "total_taxes": (
                        [
                            {
                                "amount": inv.tax,
                                "tax_behavior": "exclusive",
                                "tax_rate_details": {"tax_rate": inv.tax_rate},
                                "taxability_reason": "standard_rated",
                                "taxable_amount": inv.total - inv.tax,
                                "type": "tax_rate_details",
                            }
                        ]
                        if inv.tax
                        else []
                    ),
                }
            )
        else:
            obj.update(
                {
                    "application_fee_amount": None,
                    "charge": inv.charge,
                    "discount": None,
                    "paid": paid,
                    "paid_out_of_band": False,
                    "payment_intent": inv.payment_intent,
                    "quote": None,
                    "subscription": sub.id if sub else None,
                    # Stripe sends null, not 0, when no tax was computed.
                    "tax": inv.tax if inv.tax else None,
                    "tax_percent": None,
                    "total_tax_amounts": (
                        [
                            {
                                "amount": inv.tax,
                                "inclusive": False,
                                "tax_rate": inv.tax_rate,
                                "taxability_reason": "standard_rated",
                                "taxable_amount": inv.total - inv.tax,
                            }
                        ]
                        if inv.tax
                        else []
                    ),
                    "transfer_data": None,
                }
            )
            if api[:10] >= _SUBSCRIPTION_DETAILS_SINCE:
                obj["subscription_details"] = {"metadata": dict(sub.metadata) if sub else None}
        return _ordered(obj)

    def _invoice_payment_obj(self, inv: _Invoice, pi: str, created: int, paid_at: int) -> dict[str, Any]:
        return {
            "id": self.new_id("inpay"),
            "object": "invoice_payment",
            "amount_paid": inv.total,
            "amount_requested": inv.total,
            "created": created,
            "currency": inv.currency,
            "invoice": inv.id,
            "is_default": True,
            "livemode": inv.livemode,
            # Stripe names only the PaymentIntent here; the charge links via charge.payment_intent.
            "payment": {"payment_intent": pi, "type": "payment_intent"},
            "status": "paid",
            "status_transitions": {"canceled_at": None, "paid_at": paid_at},
        }

    # invoices --------------------------------------------------------------------------

    def _new_invoice(
        self,
        *,
        customer: str,
        email: str,
        currency: str,
        total: int,
        tax: int,
        billing_reason: str,
        created: int,
        livemode: bool,
        sub: Subscription | None,
        lines: list[dict[str, Any]],
        period: tuple[int, int],
        metadata: dict[str, str] | None = None,
    ) -> _Invoice:
        self._invoice_count += 1
        inv = _Invoice(
            id="in_1" + self._rand(23),
            customer=customer,
            email=email,
            currency=currency,
            total=total,
            tax=tax,
            billing_reason=billing_reason,
            created=created,
            paid_at=created + 1,
            livemode=livemode,
            number=f"{self._rand(8).upper()}-{self._invoice_count:04d}",
            lines=[],
            period_start=period[0],
            period_end=period[1],
            subscription=sub,
            metadata=dict(metadata or {}),
            tax_rate=self._tax_rate if tax else None,
            url_token=("live_" if livemode else "test_") + self._rand(40),
        )
        for spec in lines:
            spec.setdefault("tax", 0)
            inv.lines.append({"id": "il_1" + self._rand(23), **spec})
        if sub is not None:
            sub.invoices.append(inv.id)
        return inv

    def _pay_invoice(self, inv: _Invoice, clock: _Clock, api: str) -> Flow:
        """Events of an invoice that gets paid (or needs no payment when its total is 0)."""
        events: list[Event] = []
        charge: _Charge | None = None
        pi: str | None = None
        description = {
            "subscription_create": "Subscription creation",
            "subscription_cycle": "Subscription update",
            "subscription_update": "Subscription update",
        }.get(inv.billing_reason, f"Payment for Invoice {inv.number}")
        if inv.total > 0:
            pi = "pi_3" + self._rand(23)
            charge = self._new_charge(
                amount=inv.total,
                currency=inv.currency,
                customer=inv.customer,
                email=inv.email,
                payment_intent=pi,
                invoice=inv.id,
                description=description,
                metadata={},
                created=clock.now,
                livemode=inv.livemode,
            )
            inv.charge, inv.payment_intent = charge.id, pi
            events.append(
                self.envelope(
                    self._charge_obj(charge, api), "charge.succeeded", clock.tick(), api_version=api
                )
            )
            pi_obj = self._payment_intent_obj(
                pi=pi,
                amount=inv.total,
                currency=inv.currency,
                customer=inv.customer,
                email=inv.email,
                metadata={},
                created=inv.created,
                livemode=inv.livemode,
                status="succeeded",
                api=api,
                charge=charge,
                invoice=inv.id,
                description=description,
            )
            events.append(self.envelope(pi_obj, "payment_intent.succeeded", clock.tick(), api_version=api))
        inv.paid_at = clock.tick()
        inv_obj = self._invoice_obj(inv, api)
        events.append(self.envelope(inv_obj, "invoice.paid", inv.paid_at, api_version=api))
        events.append(
            self.envelope(
                self._invoice_obj(inv, api),
                "invoice.payment_succeeded",
                clock.tick(),
                api_version=api,
            )
        )
        if pi is not None and is_basil(api):
            inpay = self._invoice_payment_obj(inv, pi, inv.created, inv.paid_at)
            events.append(self.envelope(inpay, "invoice_payment.paid", clock.tick(), api_version=api))
        sub = inv.subscription
        return Flow(
            events=events,
            api_version=api,
            customer=inv.customer,
            payment_intent=pi,
            charge=charge.id if charge else None,
            invoice=inv.id,
            subscription=sub.id if sub else None,
            sub=sub,
        )

    # flows: one-time payments ---------------------------------------------------------

    def one_time_checkout(
        self,
        at: datetime,
        amount_minor: int,
        currency: str = "usd",
        click_id: str | None = None,
        via: ClickVia = "metadata",
        customer: str | None = None,
        email: str | None = None,
        tax_minor: int = 0,
        payment_link: bool = False,
        *,
        api_version: str | None = None,
        livemode: bool | None = None,
    ) -> Flow:
        """A paid Checkout Session in payment mode: charge, PaymentIntent, session events.

        The click id rides in session + PaymentIntent metadata (`via="metadata"`, the merchant set
        `metadata` and `payment_intent_data.metadata`) or in `client_reference_id`. A Payment Link
        can only pass `client_reference_id`, so `payment_link=True` puts it there whatever `via`.
        """
        return self._payment_checkout(
            at,
            amount_minor,
            currency=currency,
            click_id=click_id,
            via="client_reference_id" if payment_link else via,
            customer=customer,
            email=email,
            tax_minor=tax_minor,
            payment_link=payment_link,
            api_version=api_version,
            livemode=livemode,
            settles=None,
        )

    def async_checkout(
        self,
        at: datetime,
        amount_minor: int,
        currency: str = "usd",
        click_id: str | None = None,
        via: ClickVia = "metadata",
        customer: str | None = None,
        email: str | None = None,
        tax_minor: int = 0,
        *,
        succeeds: bool,
        settled_at: datetime | None = None,
        api_version: str | None = None,
        livemode: bool | None = None,
    ) -> Flow:
        """A bank-debit Checkout payment: session completes `unpaid`, money settles days later.

        Events: charge.pending, checkout.session.completed (unpaid); then at `settled_at`
        (default `at` + 4 days) charge.succeeded, payment_intent.succeeded and
        checkout.session.async_payment_succeeded, or charge.failed, payment_intent.payment_failed
        and checkout.session.async_payment_failed.
        """
        return self._payment_checkout(
            at,
            amount_minor,
            currency=currency,
            click_id=click_id,
            via=via,
            customer=customer,
            email=email,
            tax_minor=tax_minor,
            payment_link=False,
            api_version=api_version,
            livemode=livemode,
            settles=(succeeds, settled_at or at + timedelta(days=4)),
        )

    def _payment_checkout(
        self,
        at: datetime,
        amount_minor: int,
        *,
        currency: str,
        click_id: str | None,
        via: str,
        customer: str | None,
        email: str | None,
        tax_minor: int,
        payment_link: bool,
        api_version: str | None,
        livemode: bool | None,
        settles: tuple[bool, datetime] | None,
    ) -> Flow:
        api, live = self._api(api_version), self._live(livemode)
        customer, email = self._customer(customer, email)
        clock = _Clock(at, self._rng)
        cs, pi = self._session_id(live), "pi_3" + self._rand(23)
        metadata = {"rd_click_id": click_id} if click_id and via == "metadata" else {}
        ref = click_id if click_id and via == "client_reference_id" else None
        is_async = settles is not None
        charge = self._new_charge(
            amount=amount_minor,
            currency=currency,
            customer=customer,
            email=email,
            payment_intent=pi,
            invoice=None,
            description=None,
            metadata=metadata,
            created=clock.now,
            livemode=live,
            async_method=is_async,
        )

        def session(payment_status: str) -> dict[str, Any]:
            return self._session_obj(
                cs=cs,
                mode="payment",
                amount=amount_minor,
                tax=tax_minor,
                currency=currency,
                customer=customer,
                email=email,
                created=_unix(at) - 90,
                livemode=live,
                payment_status=payment_status,
                client_reference_id=ref,
                metadata=metadata,
                payment_intent=pi,
                invoice=None,
                subscription=None,
                payment_link=("plink_1" + self._rand(23)) if payment_link else None,
                async_method=is_async,
            )

        def intent(status: str, with_charge: bool) -> dict[str, Any]:
            return self._payment_intent_obj(
                pi=pi,
                amount=amount_minor,
                currency=currency,
                customer=customer,
                email=email,
                metadata=metadata,
                created=_unix(at) - 30,
                livemode=live,
                status=status,
                api=api,
                charge=charge if with_charge else None,
                async_method=is_async,
            )

        events: list[Event] = []
        if settles is None:
            events.append(
                self.envelope(self._charge_obj(charge, api), "charge.succeeded", clock.now, api_version=api)
            )
            events.append(
                self.envelope(
                    intent("succeeded", True),
                    "payment_intent.succeeded",
                    clock.tick(),
                    api_version=api,
                )
            )
            events.append(
                self.envelope(session("paid"), "checkout.session.completed", clock.tick(), api_version=api)
            )
        else:
            succeeds, settled_at = settles
            events.append(
                self.envelope(
                    self._charge_obj(charge, api, "pending"),
                    "charge.pending",
                    clock.now,
                    api_version=api,
                )
            )
            events.append(
                self.envelope(session("unpaid"), "checkout.session.completed", clock.tick(), api_version=api)
            )
            later = _Clock(settled_at, self._rng)
            if succeeds:
                events.append(
                    self.envelope(
                        self._charge_obj(charge, api),
                        "charge.succeeded",
                        later.now,
                        api_version=api,
                    )
                )
                events.append(
                    self.envelope(
                        intent("succeeded", True),
                        "payment_intent.succeeded",
                        later.tick(),
                        api_version=api,
                    )
                )
                events.append(
                    self.envelope(
                        session("paid"),
                        "checkout.session.async_payment_succeeded",
                        later.tick(),
                        api_version=api,
                    )
                )
            else:
                del self._charges[charge.id]  # a failed charge can't be refunded or disputed
                events.append(
                    self.envelope(
                        self._charge_obj(charge, api, "failed"),
                        "charge.failed",
                        later.now,
                        api_version=api,
                    )
                )
                events.append(
                    self.envelope(
                        intent("requires_payment_method", False),
                        "payment_intent.payment_failed",
                        later.tick(),
                        api_version=api,
                    )
                )
                events.append(
                    self.envelope(
                        session("unpaid"),
                        "checkout.session.async_payment_failed",
                        later.tick(),
                        api_version=api,
                    )
                )
        return Flow(
            events=events,
            api_version=api,
            customer=customer,
            session=cs,
            payment_intent=pi,
            charge=charge.id,
        )

    def direct_payment_intent(
        self,
        at: datetime,
        amount_minor: int,
        currency: str = "usd",
        click_id: str | None = None,
        customer: str | None = None,
        email: str | None = None,
        *,
        api_version: str | None = None,
        livemode: bool | None = None,
    ) -> Flow:
        """A PaymentIntent the merchant created itself (Elements): charge + PI succeeded."""
        api, live = self._api(api_version), self._live(livemode)
        customer, email = self._customer(customer, email)
        clock = _Clock(at, self._rng)
        pi = "pi_3" + self._rand(23)
        metadata = {"rd_click_id": click_id} if click_id else {}
        charge = self._new_charge(
            amount=amount_minor,
            currency=currency,
            customer=customer,
            email=email,
            payment_intent=pi,
            invoice=None,
            description=None,
            metadata=metadata,
            created=clock.now,
            livemode=live,
        )
        pi_obj = self._payment_intent_obj(
            pi=pi,
            amount=amount_minor,
            currency=currency,
            customer=customer,
            email=email,
            metadata=metadata,
            created=clock.now - 20,
            livemode=live,
            status="succeeded",
            api=api,
            charge=charge,
        )
        events = [
            self.envelope(
                self._charge_obj(charge, api),
                "charge.succeeded",
                clock.now,
                api_version=api,
                api_call=True,
            ),
            self.envelope(pi_obj, "payment_intent.succeeded", clock.tick(), api_version=api, api_call=True),
        ]
        return Flow(events=events, api_version=api, customer=customer, payment_intent=pi, charge=charge.id)

    def bare_charge(
        self,
        at: datetime,
        amount_minor: int,
        currency: str = "usd",
        customer: str | None = None,
        email: str | None = None,
        click_id: str | None = None,
        *,
        api_version: str | None = None,
        livemode: bool | None = None,
    ) -> Flow:
        """A charge made with the old Charges API: charge.succeeded with no PaymentIntent."""
        api, live = self._api(api_version), self._live(livemode)
        customer, email = self._customer(customer, email)
        charge = self._new_charge(
            amount=amount_minor,
            currency=currency,
            customer=customer,
            email=email,
            payment_intent=None,
            invoice=None,
            description=None,
            metadata={"rd_click_id": click_id} if click_id else {},
            created=_unix(at),
            livemode=live,
        )
        event = self.envelope(
            self._charge_obj(charge, api), "charge.succeeded", at, api_version=api, api_call=True
        )
        return Flow(events=[event], api_version=api, customer=customer, charge=charge.id)

    # flows: subscriptions -------------------------------------------------------------

    def subscription_checkout(
        self,
        at: datetime,
        amount_minor: int,
        currency: str = "usd",
        click_id: str | None = None,
        via: SubscriptionVia = "client_reference_id",
        customer: str | None = None,
        email: str | None = None,
        tax_minor: int = 0,
        *,
        trial_days: int = 0,
        api_version: str | None = None,
        livemode: bool | None = None,
    ) -> Flow:
        """A Checkout Session in subscription mode; `flow.sub` is the handle for later invoices.

        Events: charge.succeeded, payment_intent.succeeded, invoice.paid,
        invoice.payment_succeeded, invoice_payment.paid (basil only), checkout.session.completed.
        With `trial_days` the first invoice is 0 (no charge, PaymentIntent or invoice_payment) and
        the session's payment_status is `no_payment_required`.
        """
        api, live = self._api(api_version), self._live(livemode)
        customer, email = self._customer(customer, email)
        clock = _Clock(at, self._rng)
        start = clock.now
        sub_metadata = {"rd_click_id": click_id} if click_id and via == "subscription_metadata" else {}
        sub = Subscription(
            id="sub_1" + self._rand(23),
            customer=customer,
            email=email,
            currency=currency,
            amount_minor=amount_minor,
            tax_minor=tax_minor,
            livemode=live,
            metadata=sub_metadata,
            started_at=at,
            price="price_1" + self._rand(23),
            product="prod_" + self._rand(14),
            item="si_" + self._rand(14),
            click_id=click_id if via == "subscription_metadata" else None,
            period_start=start,
        )
        trial = trial_days > 0
        first_total, first_tax = (0, 0) if trial else (amount_minor, tax_minor)
        period_end = _unix(at + timedelta(days=trial_days)) if trial else _unix(_add_months(at, 1))
        inv = self._new_invoice(
            customer=customer,
            email=email,
            currency=currency,
            total=first_total,
            tax=first_tax,
            billing_reason="subscription_create",
            created=start,
            livemode=live,
            sub=sub,
            lines=[
                {
                    "amount": first_total - first_tax,
                    "tax": first_tax,
                    "description": "Trial period for Pro" if trial else "1 × Pro (per month)",
                    "proration": False,
                    "period": (start, period_end),
                }
            ],
            period=(start, start),
        )
        if trial:
            sub.period_start = period_end
        flow = self._pay_invoice(inv, clock, api)
        cs = self._session_id(live)
        session = self._session_obj(
            cs=cs,
            mode="subscription",
            amount=first_total,
            tax=first_tax,
            currency=currency,
            customer=customer,
            email=email,
            created=start - 90,
            livemode=live,
            payment_status="no_payment_required" if trial else "paid",
            client_reference_id=click_id if click_id and via == "client_reference_id" else None,
            metadata={"rd_click_id": click_id} if click_id and via == "metadata" else {},
            payment_intent=None,
            invoice=inv.id,
            subscription=sub.id,
            payment_link=None,
        )
        flow.events.append(
            self.envelope(session, "checkout.session.completed", clock.tick(), api_version=api)
        )
        flow.session = cs
        return flow

    def renewal(
        self,
        sub: Subscription,
        at: datetime,
        amount_minor: int | None = None,
        *,
        api_version: str | None = None,
    ) -> Flow:
        """A paid `subscription_cycle` invoice (the subscription's amount unless given)."""
        amount = sub.amount_minor if amount_minor is None else amount_minor
        tax = sub.tax_minor if amount_minor is None else 0
        return self._subscription_invoice(sub, at, amount, tax, "subscription_cycle", api_version)

    def upgrade(
        self,
        sub: Subscription,
        at: datetime,
        prorated_amount_minor: int,
        new_amount_minor: int,
        *,
        new_tax_minor: int = 0,
        api_version: str | None = None,
    ) -> Flow:
        """A plan change billed now (`subscription_update`, prorated amount); later renewals
        bill `new_amount_minor` (tax included, of which `new_tax_minor` is tax)."""
        flow = self._subscription_invoice(
            sub, at, prorated_amount_minor, 0, "subscription_update", api_version, proration=True
        )
        sub.amount_minor, sub.tax_minor = new_amount_minor, new_tax_minor
        return flow

    def zero_invoice(
        self,
        sub: Subscription,
        at: datetime,
        billing_reason: str = "subscription_cycle",
        *,
        api_version: str | None = None,
    ) -> Flow:
        """A 0-amount paid invoice (trial, 100% coupon): invoice.paid/payment_succeeded only."""
        return self._subscription_invoice(sub, at, 0, 0, billing_reason, api_version)

    def _subscription_invoice(
        self,
        sub: Subscription,
        at: datetime,
        amount: int,
        tax: int,
        billing_reason: str,
        api_version: str | None,
        proration: bool = False,
    ) -> Flow:
        api = self._api(api_version)
        clock = _Clock(at, self._rng)
        start = clock.now
        end = _unix(_add_months(at, 1))
        description = "Remaining time on Pro after upgrade" if proration else "1 × Pro (per month)"
        inv = self._new_invoice(
            customer=sub.customer,
            email=sub.email,
            currency=sub.currency,
            total=amount,
            tax=tax,
            billing_reason=billing_reason,
            created=start,
            livemode=sub.livemode,
            sub=sub,
            lines=[
                {
                    "amount": amount - tax,
                    "tax": tax,
                    "description": description,
                    "proration": proration,
                    "period": (start, end),
                }
            ],
            period=(sub.period_start, start),
        )
        if not proration:
            sub.period_start = start
        return self._pay_invoice(inv, clock, api)

    def manual_invoice(
        self,
        at: datetime,
        amount_minor: int,
        customer: str | None = None,
        currency: str = "usd",
        email: str | None = None,
        click_id: str | None = None,
        tax_minor: int = 0,
        *,
        api_version: str | None = None,
        livemode: bool | None = None,
    ) -> Flow:
        """A one-off invoice (`billing_reason` manual, no subscription); a click id goes in the
        invoice's metadata."""
        api, live = self._api(api_version), self._live(livemode)
        customer, email = self._customer(customer, email)
        clock = _Clock(at, self._rng)
        inv = self._new_invoice(
            customer=customer,
            email=email,
            currency=currency,
            total=amount_minor,
            tax=tax_minor,
            billing_reason="manual",
            created=clock.now,
            livemode=live,
            sub=None,
            lines=[
                {
                    "amount": amount_minor - tax_minor,
                    "tax": tax_minor,
                    "description": "Consulting (one-off)",
                    "proration": False,
                    "period": (clock.now, clock.now),
                    "invoice_item": "ii_1" + self._rand(23),
                    "price": "price_1" + self._rand(23),
                    "product": "prod_" + self._rand(14),
                }
            ],
            period=(clock.now, clock.now),
            metadata={"rd_click_id": click_id} if click_id else {},
        )
        return self._pay_invoice(inv, clock, api)

    # money back -----------------------------------------------------------------------

    def _charge_state(self, target: Flow | str) -> _Charge:
        charge_id = target.charge if isinstance(target, Flow) else target
        if charge_id is None or charge_id not in self._charges:
            raise KeyError(f"no succeeded charge {charge_id!r} in this simulator")
        return self._charges[charge_id]

    def refund(
        self,
        target: Flow | str,
        at: datetime,
        amount_minor: int | None = None,
        *,
        reason: str | None = "requested_by_customer",
        api_version: str | None = None,
    ) -> Flow:
        """Refund part or (default) the rest of a charge: charge.refunded + refund.created.

        The charge carries the cumulative `amount_refunded`; `refunded` is true only once the
        whole amount is back.
        """
        api = self._api(api_version)
        ch = self._charge_state(target)
        remaining = ch.amount - ch.amount_refunded
        amount = remaining if amount_minor is None else amount_minor
        if not 0 < amount <= remaining:
            raise ValueError(f"cannot refund {amount} of charge {ch.id}: {remaining} left")
        clock = _Clock(at, self._rng)
        refund = {
            "id": "re_3" + self._rand(23),
            "object": "refund",
            "amount": amount,
            "balance_transaction": "txn_3" + self._rand(23),
            "charge": ch.id,
            "created": clock.now,
            "currency": ch.currency,
            "destination_details": {"card": {"type": "refund"}, "type": "card"},
            "metadata": {},
            "payment_intent": ch.payment_intent,
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
        previous: dict[str, Any] = {"amount_refunded": ch.amount_refunded}
        if api[:10] < _CHARGE_LISTS_UNTIL:
            previous["refunds"] = {
                "data": list(reversed(ch.refunds)),
                "total_count": len(ch.refunds),
            }
        ch.amount_refunded += amount
        ch.refunds.append(refund)
        if ch.amount_refunded >= ch.amount:
            previous["refunded"] = False
        events = [
            self.envelope(
                self._charge_obj(ch, api),
                "charge.refunded",
                clock.now,
                api_version=api,
                previous_attributes=previous,
                api_call=True,
            ),
            self.envelope(dict(refund), "refund.created", clock.tick(), api_version=api, api_call=True),
        ]
        return Flow(
            events=events,
            api_version=api,
            customer=ch.customer,
            payment_intent=ch.payment_intent,
            charge=ch.id,
            invoice=ch.invoice,
            refund=refund["id"],
        )

    def _dispute_obj(self, dp: _Dispute, ch: _Charge, api: str) -> dict[str, Any]:
        txns: list[dict[str, Any]] = []
        if dp.withdrawal_txn:
            txns.append(self._dispute_txn(dp.withdrawal_txn, -dp.amount, ch, dp.created))
        if dp.reinstatement_txn:
            txns.append(self._dispute_txn(dp.reinstatement_txn, dp.amount, ch, dp.created))
        obj: dict[str, Any] = {
            "id": dp.id,
            "object": "dispute",
            "amount": dp.amount,
            "balance_transactions": txns,
            "charge": ch.id,
            "created": dp.created,
            "currency": ch.currency,
            "evidence": {
                "customer_email_address": None,
                "product_description": None,
                "uncategorized_text": None,
            },
            "evidence_details": {
                "due_by": dp.created + 14 * 86400,
                "has_evidence": dp.status in ("won", "lost", "under_review"),
                "past_due": False,
                "submission_count": 1 if dp.status in ("won", "lost") else 0,
            },
            "is_charge_refundable": False,
            "livemode": ch.livemode,
            "metadata": {},
            "payment_intent": ch.payment_intent,
            "reason": "fraudulent",
            "status": dp.status,
        }
        if is_basil(api):
            obj["payment_method_details"] = {
                "card": {"brand": "visa", "case_type": "chargeback", "network_reason_code": "10.4"},
                "type": "card",
            }
        return obj

    def _dispute_txn(self, txn: str, amount: int, ch: _Charge, created: int) -> dict[str, Any]:
        fee = 1500 if amount < 0 else -1500
        return {
            "id": txn,
            "object": "balance_transaction",
            "amount": amount,
            "created": created,
            "currency": ch.currency,
            "description": "Chargeback withdrawal" if amount < 0 else "Chargeback reversal",
            "fee": fee,
            "net": amount - fee,
            "reporting_category": "dispute" if amount < 0 else "dispute_reversal",
            "status": "available",
            "type": "adjustment",
        }

    def dispute(
        self,
        target: Flow | str,
        at: datetime,
        amount_minor: int | None = None,
        outcome: Literal["lost", "won"] | None = None,
        *,
        closed_at: datetime | None = None,
        api_version: str | None = None,
    ) -> Flow:
        """A chargeback: charge.dispute.created + charge.dispute.funds_withdrawn, then with an
        `outcome` (at `closed_at`, default `at` + 21 days) charge.dispute.closed, plus
        charge.dispute.funds_reinstated when won. Leave `outcome` None and call
        `close_dispute` later to keep it open."""
        api = self._api(api_version)
        ch = self._charge_state(target)
        dp = _Dispute(
            id="dp_1" + self._rand(23),
            charge=ch.id,
            amount=ch.amount - ch.amount_refunded if amount_minor is None else amount_minor,
            created=_unix(at),
            withdrawal_txn="",
        )
        self._disputes[dp.id] = dp
        ch.disputed = True
        clock = _Clock(at, self._rng)
        events = [
            self.envelope(
                self._dispute_obj(dp, ch, api), "charge.dispute.created", clock.now, api_version=api
            )
        ]
        dp.withdrawal_txn = "txn_1" + self._rand(23)
        events.append(
            self.envelope(
                self._dispute_obj(dp, ch, api),
                "charge.dispute.funds_withdrawn",
                clock.tick(),
                api_version=api,
            )
        )
        flow = Flow(
            events=events,
            api_version=api,
            customer=ch.customer,
            payment_intent=ch.payment_intent,
            charge=ch.id,
            invoice=ch.invoice,
            dispute=dp.id,
        )
        if outcome is not None:
            closing = self.close_dispute(
                dp.id, closed_at or at + timedelta(days=21), outcome, api_version=api
            )
            flow.events.extend(closing.events)
        return flow

    def close_dispute(
        self,
        dispute_id: str,
        at: datetime,
        outcome: Literal["lost", "won"],
        *,
        api_version: str | None = None,
    ) -> Flow:
        """Close an open dispute: charge.dispute.closed (+ funds_reinstated when won)."""
        api = self._api(api_version)
        dp = self._disputes[dispute_id]
        if dp.status in ("won", "lost"):
            raise ValueError(f"dispute {dispute_id} is already closed ({dp.status})")
        ch = self._charges[dp.charge]
        dp.status = outcome
        if outcome == "won":
            dp.reinstatement_txn = "txn_1" + self._rand(23)
        clock = _Clock(at, self._rng)
        events = [
            self.envelope(
                self._dispute_obj(dp, ch, api),
                "charge.dispute.closed",
                clock.now,
                api_version=api,
                previous_attributes={"status": "needs_response"},
            )
        ]
        if outcome == "won":
            events.append(
                self.envelope(
                    self._dispute_obj(dp, ch, api),
                    "charge.dispute.funds_reinstated",
                    clock.tick(),
                    api_version=api,
                )
            )
        return Flow(
            events=events,
            api_version=api,
            customer=ch.customer,
            payment_intent=ch.payment_intent,
            charge=ch.id,
            invoice=ch.invoice,
            dispute=dp.id,
        )
