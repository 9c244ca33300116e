"""Stripe object payloads (charges, PaymentIntents, Checkout Sessions, invoices, disputes) per API version.

`StripePayloads` renders the objects and the event envelope; `simulator.stripe.flows.StripeSim`
builds on it to tell whole payment flows.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


def _ordered(obj: dict[str, Any]) -> dict[str, Any]:
    """Keys as Stripe serialises them: id and object first, then alphabetical."""
    head = {k: obj[k] for k in ("id", "object") if k in obj}
    return head | {k: obj[k] for k in sorted(obj) if k not in head}


def _unix(at: datetime) -> int:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp())


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
    discount: dict[str, Any] | None = None  # the discount a promotion code gave it, on every invoice


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
    reinstated_at: int = 0
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


class StripePayloads:
    """Renders Stripe objects and event envelopes, deterministic given `seed`."""

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
