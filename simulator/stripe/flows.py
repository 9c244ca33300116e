"""Payment flows as Stripe tells them: one-time payments, subscriptions, renewals, refunds, disputes.

Each flow method returns a `Flow`: its events in Stripe's natural order and the ids it made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from simulator.dates import add_months
from simulator.stripe.payloads import (
    _CHARGE_LISTS_UNTIL,
    ClickVia,
    Event,
    StripePayloads,
    Subscription,
    SubscriptionVia,
    _Charge,
    _Clock,
    _Dispute,
    _Invoice,
    _unix,
    is_basil,
)


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
    promotion_code: str | None = None

    def types(self) -> list[str]:
        """Event types in order."""
        return [e["type"] for e in self.events]

    def first(self, event_type: str) -> Event:
        """The first event of this type (KeyError when the flow has none)."""
        for event in self.events:
            if event["type"] == event_type:
                return event
        raise KeyError(event_type)


class StripeSim(StripePayloads):
    """Plays Stripe: builds the webhook events of payment flows, deterministic given `seed`."""

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
        period_end = _unix(at + timedelta(days=trial_days)) if trial else _unix(add_months(at, 1))
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
        end = _unix(add_months(at, 1))
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
        flow = self._pay_invoice(inv, clock, api)
        if sub.discount is not None:
            self._discount_invoices(flow, sub.discount, api)
        return flow

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

    # customers and promotion codes ----------------------------------------------------

    def sign_up(
        self,
        at: datetime,
        *,
        click_id: str | None = None,
        email: str | None = None,
        api_version: str | None = None,
        livemode: bool | None = None,
    ) -> Flow:
        """A customer created at sign-up (`customer.created`), the click id in its metadata: a lead."""
        api, live = self._api(api_version), self._live(livemode)
        customer, email = self._customer(None, email)
        obj = {
            "id": customer,
            "object": "customer",
            "created": _unix(at),
            "email": email,
            "livemode": live,
            "metadata": {"rd_click_id": click_id} if click_id else {},
            "name": None,
        }
        event = self.envelope(obj, "customer.created", at, api_version=api, livemode=live, api_call=True)
        return Flow(events=[event], api_version=api, customer=customer)

    def promotion_code(
        self,
        code: str,
        at: datetime,
        *,
        percent_off: int = 10,
        metadata: dict[str, str] | None = None,
        api_version: str | None = None,
        livemode: bool | None = None,
    ) -> Flow:
        """A promotion code made in the dashboard (`promotion_code.created`); `flow.promotion_code`."""
        api, live = self._api(api_version), self._live(livemode)
        promo = "promo_1" + self._rand(23)
        coupon = {"id": self._rand(8), "object": "coupon", "percent_off": percent_off, "duration": "forever"}
        obj = {
            "id": promo,
            "object": "promotion_code",
            "active": True,
            "code": code,
            "coupon": coupon,
            "created": _unix(at),
            "livemode": live,
            "metadata": metadata or {},
        }
        event = self.envelope(
            obj, "promotion_code.created", at, api_version=api, livemode=live, api_call=True
        )
        return Flow(events=[event], api_version=api, promotion_code=promo)

    def use_code(self, flow: Flow, promotion_code: str) -> Flow:
        """The checkout `flow` as if the customer had typed a promotion code: its session names the
        code; its invoice carries the discount (the legacy `discount` object, or from 2025-03-31 a
        discount id and a `customer.discount.created` event); a subscription keeps it for renewals."""
        api = flow.api_version
        discount = {
            "id": "di_1" + self._rand(23),
            "object": "discount",
            "coupon": {"id": self._rand(8), "object": "coupon"},
            "customer": flow.customer,
            "promotion_code": promotion_code,
            "subscription": flow.subscription,
            "start": flow.events[0]["created"],
        }
        for event in flow.events:
            obj = event["data"]["object"]
            if obj.get("object") == "checkout.session":
                obj["discounts"] = [{"coupon": discount["coupon"]["id"], "promotion_code": promotion_code}]
        self._discount_invoices(flow, discount, api)
        if flow.sub is not None:
            flow.sub.discount = discount
        return flow

    def _discount_invoices(self, flow: Flow, discount: dict[str, Any], api: str) -> None:
        invoices = [e for e in flow.events if e["data"]["object"].get("object") == "invoice"]
        for event in invoices:
            if is_basil(api):
                event["data"]["object"]["discounts"] = [discount["id"]]
            else:
                event["data"]["object"]["discount"] = dict(discount)
        if invoices and is_basil(api):
            created = invoices[0]["created"] - 1
            flow.events.insert(
                0, self.envelope(dict(discount), "customer.discount.created", created, api_version=api)
            )

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
            txns.append(self._dispute_txn(dp.reinstatement_txn, dp.amount, ch, dp.reinstated_at))
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
            dp.reinstated_at = _unix(at)  # the money comes back when the dispute is won
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
