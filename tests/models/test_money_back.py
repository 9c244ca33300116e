"""Money back: refunds and disputes become payment adjustments and take the commission back in proportion;
a dispute won puts it back; a commission fully taken back before it is payable is void."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.contracts import OFFER_TIER, empty
from models.marts import MartInputs, build_marts
from models.money import format_minor
from models.statements import affiliate_statements
from simulator.landing import staged
from simulator.stripe import BASIL, LEGACY, Flow, StripeSim
from tests.support.paths import STRIPE_FIXTURES

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
PAYABLE_ON = date(2026, 2, 14)  # START + the offer's 30 holding days
LATER = START + timedelta(days=90)  # every line's holding period is over
GENERATIONS = pytest.mark.parametrize("api", [BASIL, LEGACY], ids=["basil", "legacy"])
FIXTURES = STRIPE_FIXTURES
GUIDE_EVENTS = {"checkout.session.completed", "invoice.paid", "charge.succeeded"}
Event = dict[str, Any]


@dataclass
class Marts:
    payments: pl.DataFrame
    adjustments: pl.DataFrame
    rejected: pl.DataFrame
    lines: pl.DataFrame

    def of_kind(self, kind: str) -> list[int]:
        return (
            self.lines.filter(pl.col("kind") == kind).sort("earned_at", "line_id")["amount_minor"].to_list()
        )

    @property
    def net(self) -> int:
        return self.lines["amount_minor"].sum()


@pytest.fixture
def ledger(clicks_frame: Callable, offers_frame: Callable) -> Callable[..., Marts]:
    """`ledger(events, clicks, now=LATER)`: the marts a run builds from exactly these raw events."""

    def run(events: list[Event], clicks: list[dict], now: datetime = LATER) -> Marts:
        objects, rejected = staged(events)
        offers = offers_frame()
        inputs = MartInputs(objects, clicks_frame(*clicks), offers, empty(OFFER_TIER), now, rejected=rejected)
        built = build_marts(inputs)
        lines = built.commission_lines.drop("carried_from_period").sort("earned_at", "line_id")
        return Marts(built.payments, built.payment_adjustments, built.rejected_events, lines)

    return run


@pytest.fixture
def sale(sim: StripeSim, click: Callable) -> Callable[..., tuple[Flow, dict]]:
    """`sale(amount_minor=9900, kind="one_time", api=BASIL, currency="usd")`: a paid flow attributed to
    jane's pro-20 click (20 %) and the click."""

    def make(
        amount_minor: int = 9900, kind: str = "one_time", api: str = BASIL, currency: str = "usd"
    ) -> tuple[Flow, dict]:
        visit = click(START - timedelta(days=2), offer="pro-20")
        if kind == "subscription":
            flow = sim.subscription_checkout(
                START, amount_minor, currency=currency, click_id=visit["click_id"], api_version=api
            )
        else:
            flow = sim.one_time_checkout(
                START, amount_minor, currency=currency, click_id=visit["click_id"], api_version=api
            )
        return flow, visit

    return make


def without(events: list[Event], *types: str) -> list[Event]:
    return [e for e in events if e["type"] not in types]


def days(n: float) -> datetime:
    return START + timedelta(days=n)


def refund_status_update(refund: Flow, sim: StripeSim, status: str, event_type: str, at: datetime) -> Event:
    """The refund's later update event with a new status (Stripe: a refund can fail or be canceled)."""
    obj = copy.deepcopy(refund.first("refund.created")["data"]["object"])
    obj["status"] = status
    return sim.envelope(obj, event_type, at, previous_attributes={"status": "succeeded"})


# refunds -----------------------------------------------------------------------------------------


@GENERATIONS
@pytest.mark.parametrize("kind", ["one_time", "subscription"])
def test_full_refund_reverses_the_whole_commission(
    api: str, kind: str, sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(kind=kind, api=api)
    refund = sim.refund(flow, days(40), api_version=api)

    marts = ledger(flow.events + refund.events, [visit])

    assert marts.adjustments.select("payment_id", "kind", "amount_minor").rows() == [
        (flow.invoice if kind == "subscription" else flow.payment_intent, "refund", -9900)
    ]
    assert (marts.of_kind("commission"), marts.of_kind("reversal")) == ([1980], [-1980])
    assert marts.net == 0


def test_partial_refunds_reverse_the_commission_in_proportion(
    sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(9900)  # 20 % → 1980
    first, second = sim.refund(flow, days(3), 3300), sim.refund(flow, days(6), 3300)

    marts = ledger(flow.events + first.events + second.events, [visit])

    assert marts.adjustments["amount_minor"].to_list() == [-3300, -3300]
    assert marts.of_kind("reversal") == [-660, -660]
    assert marts.net == 660
    assert marts.lines["status"].unique().to_list() == ["approved"]


@pytest.mark.parametrize("dropped", ["refund.created", "charge.refunded"])
def test_two_partial_refunds_delivered_through_one_event_type_count_as_two_not_three(
    dropped: str, sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(9900)
    refunds = sim.refund(flow, days(3), 3300).events + sim.refund(flow, days(6), 3300).events
    delivered = without(refunds, dropped)
    # cumulative amount_refunded 3300 then 6600, delivered backwards and twice
    redelivered = list(reversed(delivered)) * 2

    marts = ledger(flow.events + redelivered, [visit])

    assert marts.adjustments["amount_minor"].to_list() == [-3300, -3300]
    assert marts.of_kind("reversal") == [-660, -660]
    assert marts.net == 660


@pytest.mark.parametrize("status", ["failed", "canceled"])
@pytest.mark.parametrize("event_type", ["refund.updated", "refund.failed", "charge.refund.updated"])
def test_refund_that_failed_or_was_canceled_takes_nothing_back(
    status: str, event_type: str, sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(9900)
    refund = sim.refund(flow, days(3), 4000)
    update = refund_status_update(refund, sim, status, event_type, days(5))

    marts = ledger([update, *flow.events, *refund.events], [visit])

    assert marts.adjustments.is_empty()
    assert marts.of_kind("reversal") == []
    assert marts.net == 1980


@pytest.mark.parametrize("event_id", ["evt_0", "evt_zzzzzzzzzzzzzzzzzzzzzzzzzzzz"])
def test_a_refund_that_failed_in_the_second_it_was_made_takes_nothing_back_whatever_its_event_id(
    event_id: str, sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    # Review: the latest status was the last event in (second, event id) order: a refund.failed sharing
    # its refund.created's second, with a smaller random id, ranked before it and the refund counted.
    flow, visit = sale(9900)
    refund = sim.refund(flow, days(3), 4000)
    made = datetime.fromtimestamp(refund.first("refund.created")["created"], UTC)
    update = refund_status_update(refund, sim, "failed", "refund.failed", made)
    update["id"] = event_id

    marts = ledger([*flow.events, *refund.events, update], [visit])

    assert marts.adjustments.is_empty()


def test_failed_refund_does_not_cancel_another_refund_of_the_same_charge_seen_only_as_charge_refunded(
    sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(9900)
    kept = sim.refund(flow, days(3), 3300)
    failed = sim.refund(flow, days(6), 3300)
    update = refund_status_update(failed, sim, "failed", "charge.refund.updated", days(7))
    delivered = without(kept.events, "refund.created") + without(failed.events, "refund.created") + [update]

    marts = ledger(flow.events + delivered, [visit])

    assert marts.adjustments["amount_minor"].to_list() == [-3300]
    assert marts.of_kind("reversal") == [-660]


def test_a_refund_whose_own_event_was_lost_is_taken_back_when_the_charge_says_not_at_the_next_refund(
    sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(10000)  # 2000 commission
    lost = sim.refund(flow, days(40), 3000)  # only its charge.refunded (cumulative 3000) arrives
    later = sim.refund(flow, days(70), 2000)  # arrives whole: cumulative 5000 and its refund object

    marts = ledger(flow.events + without(lost.events, "refund.created") + later.events, [visit])

    refunds = marts.adjustments.sort("occurred_at").select("occurred_at", "amount_minor").rows()
    assert [amount for _at, amount in refunds] == [-3000, -2000]
    assert [at.date() for at, _amount in refunds] == [days(40).date(), days(70).date()]
    assert marts.of_kind("reversal") == [-600, -400]


@GENERATIONS
def test_a_partial_capture_takes_no_commission_back_for_the_rest_it_released(
    api: str, sim: StripeSim, click: Callable, ledger: Callable
) -> None:
    """Before 2025-03-31.basil, capturing 6000 of a 10000 authorization released the 4000 as a Refund
    object and counted it in the charge's amount_refunded; the customer was never charged it."""
    visit = click(START - timedelta(days=2), offer="pro-20")
    flow = sim.direct_payment_intent(START, 10000, click_id=visit["click_id"], api_version=api)
    succeeded = flow.first("charge.succeeded")
    charge = copy.deepcopy(succeeded["data"]["object"]) | {"captured": False, "amount_captured": 0}
    authorized = sim.envelope(charge, "charge.succeeded", START, api_version=api)
    released = 4000 if api == LEGACY else 0  # from basil on, a capture adds nothing to amount_refunded
    captured = charge | {"captured": True, "amount_captured": 6000, "amount_refunded": released}
    at_capture = [sim.envelope(captured, "charge.captured", days(1), api_version=api)]
    release = {"id": "re_release", "object": "refund", "amount": 4000, "charge": charge["id"]}
    release |= {"created": int(days(1).timestamp()), "currency": "usd", "status": "succeeded"}
    release |= {"payment_intent": flow.payment_intent, "reason": None}
    if api == LEGACY:
        at_capture += [
            sim.envelope(captured, "charge.refunded", days(1), api_version=api),
            sim.envelope(release, "charge.refund.updated", days(1), api_version=api),
        ]
    real = release | {"id": "re_real", "amount": 1500, "created": int(days(3).timestamp())}
    refunded = captured | {"amount_refunded": released + 1500}
    later = [
        sim.envelope(real, "refund.created", days(3), api_version=api),
        sim.envelope(refunded, "charge.refunded", days(3), api_version=api),
    ]

    events = [authorized, *at_capture, *later]
    for delivered in (events, events[::-1], events[1:] + [later[0], authorized]):
        marts = ledger(delivered, [visit])

        assert marts.payments.select("payment_id", "amount_minor").rows() == [(flow.payment_intent, 6000)]
        assert marts.adjustments["amount_minor"].to_list() == [-1500]
        assert (marts.of_kind("commission"), marts.of_kind("reversal")) == ([1200], [-300])


@GENERATIONS
def test_refund_of_a_subscription_renewal_finds_its_invoice(
    api: str, sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    first, visit = sale(kind="subscription", api=api)
    renewal = sim.renewal(first.sub, days(31), api_version=api)
    refund = sim.refund(renewal, days(35), 4950, api_version=api)

    marts = ledger(first.events + renewal.events + refund.events, [visit])

    assert marts.adjustments.select("payment_id", "amount_minor").rows() == [(renewal.invoice, -4950)]
    reversal = marts.lines.filter(pl.col("kind") == "reversal").row(0, named=True)
    assert (reversal["payment_id"], reversal["conversion_id"]) == (renewal.invoice, f"cv_{renewal.invoice}")
    assert reversal["amount_minor"] == -990


def test_refund_of_a_basil_renewal_whose_charge_was_matched_by_customer_amount_time_finds_its_invoice(
    sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    first, visit = sale(kind="subscription", api=BASIL)
    renewal = sim.renewal(first.sub, days(31), api_version=BASIL)
    refund = sim.refund(renewal, days(35), api_version=BASIL)
    guide_only = [e for e in first.events + renewal.events if e["type"] in GUIDE_EVENTS]

    marts = ledger(guide_only + refund.events, [visit])

    assert marts.payments["match_method"].to_list() == ["customer_amount_time"] * 2
    assert marts.adjustments["payment_id"].to_list() == [renewal.invoice]
    assert marts.lines.filter(pl.col("payment_id") == renewal.invoice)["amount_minor"].sum() == 0


PARTS = ("charge.succeeded", "payment_intent.succeeded", "invoice_payment.paid")


def _second_part(events: list[Event], part: int, rest: int, sim: StripeSim) -> list[Event]:
    """A basil invoice's events as if paid in two parts: the flow's PaymentIntent and charge take
    `part`, a second PaymentIntent, charge and `invoice_payment.paid` take `rest`."""
    charge, intent, paid = (copy.deepcopy(next(e for e in events if e["type"] == t)) for t in PARTS)
    charge["data"]["object"].update(amount=part, amount_captured=part)
    intent["data"]["object"].update(amount=part, amount_received=part)
    paid["data"]["object"].update(amount_paid=part, amount_requested=part)
    second_charge = {"id": "ch_3SecondPart", "payment_intent": "pi_3SecondPart"}
    second_intent = {"id": "pi_3SecondPart", "latest_charge": "ch_3SecondPart", "amount_received": rest}
    second_paid = {
        "id": "inpay_second",
        "amount_requested": rest,
        "payment": {"type": "payment_intent", "payment_intent": "pi_3SecondPart"},
    }
    second = []
    for event, changes in (
        (charge, second_charge | {"amount": rest, "amount_captured": rest}),
        (intent, second_intent | {"amount": rest}),
        (paid, second_paid | {"amount_paid": rest}),
    ):
        at = datetime.fromtimestamp(event["created"], UTC) + timedelta(seconds=30)
        second.append(sim.envelope(copy.deepcopy(event["data"]["object"]) | changes, event["type"], at))
    return [e for e in events if e["type"] not in PARTS] + [charge, intent, paid, *second]


@pytest.mark.parametrize("refunded", ["first", "second"])
def test_a_refund_of_either_part_of_an_invoice_paid_in_two_parts_reverses_its_share(
    refunded: str, sim: StripeSim, click: Callable, ledger: Callable
) -> None:
    visit = click(START - timedelta(days=2), offer="pro-20")
    flow = sim.manual_invoice(START, 10000, click_id=visit["click_id"], api_version=BASIL)
    events = _second_part(flow.events, 6000, 4000, sim)
    charge, intent, amount = {
        "first": (flow.charge, flow.payment_intent, 6000),
        "second": ("ch_3SecondPart", "pi_3SecondPart", 4000),
    }[refunded]
    refund = {
        "id": "re_3Part",
        "object": "refund",
        "amount": amount,
        "charge": charge,
        "currency": "usd",
        "payment_intent": intent,
        "status": "succeeded",
        "created": int(days(2).timestamp()),
    }

    marts = ledger([*events, sim.envelope(refund, "refund.created", days(2))], [visit])

    assert marts.payments.height == 1 and marts.payments["amount_minor"].to_list() == [10000]
    assert marts.adjustments["payment_id"].to_list() == marts.payments["payment_id"].to_list()
    assert marts.of_kind("reversal") == [-2000 * amount // 10000]


def test_refund_of_a_payment_never_seen_is_kept_without_a_payment_and_takes_no_commission(
    ledger: Callable,
) -> None:
    event = json.loads((FIXTURES / "legacy_2020-03-02" / "charge_refunded.json").read_text())

    marts = ledger([event], [])

    assert marts.adjustments.select("payment_id", "kind", "amount_minor", "currency").rows() == [
        (None, "refund", -2500, "usd")
    ]
    assert marts.lines.is_empty()


def test_refund_of_a_test_mode_payment_is_recorded_and_reverses_nothing(
    click: Callable, ledger: Callable
) -> None:
    sim = StripeSim(seed=4, livemode=False)
    visit = click(START - timedelta(days=1))
    flow = sim.one_time_checkout(START, 9900, click_id=visit["click_id"])
    refund = sim.refund(flow, days(2))

    marts = ledger(flow.events + refund.events, [visit])

    assert marts.adjustments.select("livemode", "amount_minor").rows() == [(False, -9900)]
    assert marts.lines.is_empty()


# disputes ----------------------------------------------------------------------------------------


@GENERATIONS
def test_open_dispute_with_funds_withdrawn_reverses_the_commission(
    api: str, sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(api=api)
    dispute = sim.dispute(flow, days(40), api_version=api)
    assert dispute.types() == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]

    for delivered in (dispute.events, dispute.events[:1], dispute.events[1:], dispute.events[::-1] * 2):
        marts = ledger(flow.events + delivered, [visit])

        assert marts.adjustments.select("kind", "amount_minor").rows() == [("dispute", -9900)]
        assert marts.of_kind("reversal") == [-1980]
        assert marts.net == 0


@pytest.mark.parametrize(
    "won_by", ["closed_and_reinstated", "closed_won_only", "funds_reinstated_only"], ids=str
)
def test_dispute_won_reinstates_the_commission_so_net_is_the_original_commission(
    won_by: str, sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(9900)
    dispute = sim.dispute(flow, days(40), outcome="won")
    dropped = {
        "closed_won_only": "charge.dispute.funds_reinstated",
        "funds_reinstated_only": "charge.dispute.closed",
    }
    delivered = without(dispute.events, dropped.get(won_by, ""))

    marts = ledger(flow.events + delivered[::-1], [visit])

    assert marts.adjustments["kind"].to_list() == ["dispute", "dispute_reversal"]
    assert marts.adjustments["amount_minor"].to_list() == [-9900, 9900]
    assert (marts.of_kind("reversal"), marts.of_kind("reinstatement")) == ([-1980], [1980])
    assert marts.net == 1980


def test_dispute_lost_keeps_the_commission_reversed(sim: StripeSim, sale: Callable, ledger: Callable) -> None:
    flow, visit = sale(9900)
    dispute = sim.dispute(flow, days(40), outcome="lost")

    marts = ledger(flow.events + dispute.events, [visit])

    assert marts.adjustments["amount_minor"].to_list() == [-9900]
    assert (marts.of_kind("reversal"), marts.of_kind("reinstatement")) == ([-1980], [])
    assert marts.net == 0


def test_partial_refund_then_dispute_of_the_rest_reverses_exactly_the_whole_commission(
    sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(9999)  # 20 % of 9999 = 1999.8 → 2000
    refund = sim.refund(flow, days(35), 3333)
    dispute = sim.dispute(flow, days(40))  # the 6666 left

    marts = ledger(flow.events + refund.events + dispute.events, [visit])

    assert marts.adjustments["amount_minor"].to_list() == [-3333, -6666]
    assert marts.of_kind("commission") == [2000]
    assert marts.of_kind("reversal") == [-667, -1333]
    assert marts.net == 0


def inquiry(dispute: Flow, sim: StripeSim) -> list[Event]:
    """The dispute's events as an inquiry: status warning_needs_response, no funds withdrawn."""
    created = copy.deepcopy(dispute.first("charge.dispute.created"))
    created["data"]["object"]["status"] = "warning_needs_response"
    created["data"]["object"]["balance_transactions"] = []
    closed = copy.deepcopy(created)
    closed["id"], closed["type"], closed["created"] = (
        "evt_1inquiryclosed",
        "charge.dispute.closed",
        created["created"] + 86400,
    )
    closed["data"]["object"]["status"] = "warning_closed"
    return [created, closed]


def test_inquiry_without_funds_withdrawn_takes_nothing_back(
    sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(9900)
    dispute = sim.dispute(flow, days(10))
    real_inquiry = json.loads((FIXTURES / "legacy_2020-03-02" / "charge_dispute_created.json").read_text())
    assert real_inquiry["data"]["object"]["status"] == "warning_needs_response"

    marts = ledger(flow.events + inquiry(dispute, sim) + [real_inquiry], [visit])

    assert marts.rejected.is_empty()
    assert marts.adjustments.is_empty()
    assert marts.net == 1980


# holding period and void ---------------------------------------------------------------------------


@pytest.mark.parametrize("money_back", ["refund", "dispute_lost"])
def test_commission_fully_taken_back_before_payable_on_is_void_and_in_no_statement_total(
    money_back: str, sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(9900)
    back = (
        sim.refund(flow, days(10)) if money_back == "refund" else sim.dispute(flow, days(10), outcome="lost")
    )

    marts = ledger(flow.events + back.events, [visit])

    assert marts.lines["payable_on"].min() == PAYABLE_ON
    assert marts.lines.select("kind", "amount_minor", "status").rows() == [
        ("commission", 1980, "void"),
        ("reversal", -1980, "void"),
    ]
    # The month still has the affiliate's row, so its void lines have a row to be summed beside
    # (the export's void_minor); every total of it is 0.
    [statement] = affiliate_statements(marts.lines).to_dicts()
    totals = {
        name: value for name, value in statement.items() if name.endswith(("_minor", "_lines", "_count"))
    }
    assert set(totals.values()) == {0}


def test_commission_partly_refunded_before_payable_on_is_not_void(
    sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(9900)
    refund = sim.refund(flow, days(10), 9800)

    marts = ledger(flow.events + refund.events, [visit])

    assert marts.lines.select("kind", "amount_minor", "status").rows() == [
        ("commission", 1980, "approved"),
        ("reversal", -1960, "approved"),
    ]
    assert affiliate_statements(marts.lines)["net_minor"].to_list() == [20]


def test_commission_fully_refunded_after_payable_on_stays_approved_with_an_approved_reversal(
    sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(9900)
    refund = sim.refund(flow, days(40))

    marts = ledger(flow.events + refund.events, [visit])

    assert marts.lines.select("kind", "amount_minor", "status", "period").rows() == [
        ("commission", 1980, "approved", "2026-01"),
        ("reversal", -1980, "approved", "2026-02"),
    ]
    statements = affiliate_statements(marts.lines)
    assert statements.select("period", "gross_minor", "reversals_minor", "net_minor").rows() == [
        ("2026-01", 1980, 0, 1980),
        ("2026-02", 0, -1980, -1980),
    ]


def test_dispute_won_after_being_fully_withdrawn_before_payable_on_is_not_void(
    sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(9900)
    dispute = sim.dispute(flow, days(5), outcome="won", closed_at=days(20))

    marts = ledger(flow.events + dispute.events, [visit])

    assert "void" not in marts.lines["status"].to_list()
    assert marts.net == 1980


def test_reversal_before_payable_on_is_pending_until_the_commissions_payable_on(
    sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(9900)
    refund = sim.refund(flow, days(5), 4950)

    marts = ledger(flow.events + refund.events, [visit], now=days(10))

    assert marts.lines.select("kind", "amount_minor", "status", "payable_on").rows() == [
        ("commission", 1980, "pending", PAYABLE_ON),
        ("reversal", -990, "pending", PAYABLE_ON),
    ]


# rounding ----------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amount=st.integers(min_value=1, max_value=1_000_000),
    cuts=st.lists(st.floats(min_value=0.0, max_value=1.0), max_size=4),
)
def test_reversals_of_partial_refunds_add_up_to_exactly_the_commission_once_fully_refunded(
    amount: int, cuts: list[float], sale: Callable, sim: StripeSim, ledger: Callable
) -> None:
    flow, visit = sale(amount)
    points = sorted({round(c * amount) for c in cuts} - {0, amount})
    parts = [b - a for a, b in zip([0, *points], [*points, amount], strict=True)]
    refunds = [sim.refund(flow, days(3 + i), part) for i, part in enumerate(parts)]

    marts = ledger(flow.events + [e for r in refunds for e in r.events], [visit])

    commission = marts.of_kind("commission")
    reversals = marts.of_kind("reversal")
    assert sum(reversals) == -sum(commission)
    assert all(r <= 0 for r in reversals)
    assert marts.net == 0


def test_three_equal_thirds_of_a_refund_round_each_step_and_add_up(
    sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(100)  # 20 % → 20
    refunds = [sim.refund(flow, days(n), part) for n, part in ((3, 33), (4, 33), (5, 34))]

    marts = ledger(flow.events + [e for r in refunds for e in r.events], [visit])

    assert marts.of_kind("reversal") == [-7, -6, -7]  # 6.6 → 7, 13.2 → 13, 20
    assert marts.net == 0


# currencies and bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "amount", "refunded", "commission", "reversal", "shown"),
    [
        ("jpy", 5000, 2500, 1000, -500, ("1000", "-500")),
        ("kwd", 12345, 4115, 2469, -823, ("2.469", "-0.823")),
    ],
)
def test_refund_in_zero_and_three_decimal_currencies_keeps_minor_units(
    currency: str,
    amount: int,
    refunded: int,
    commission: int,
    reversal: int,
    shown: tuple[str, str],
    sim: StripeSim,
    sale: Callable,
    ledger: Callable,
) -> None:
    flow, visit = sale(amount, currency=currency)
    refund = sim.refund(flow, days(40), refunded)

    marts = ledger(flow.events + refund.events, [visit])

    assert marts.adjustments.select("amount_minor", "currency").rows() == [(-refunded, currency)]
    assert (marts.of_kind("commission"), marts.of_kind("reversal")) == ([commission], [reversal])
    assert tuple(format_minor(a, currency) for a in (commission, reversal)) == shown


@pytest.mark.parametrize(
    ("event_type", "edit"),
    [
        ("refund.created", lambda o: o.pop("amount")),
        ("refund.created", lambda o: o.update(amount="3300")),
        ("charge.refunded", lambda o: o.update(amount_refunded="3300")),
        ("charge.dispute.created", lambda o: o.pop("charge")),
    ],
    ids=[
        "refund_without_amount",
        "refund_amount_a_string",
        "refunded_amount_a_string",
        "dispute_without_charge",
    ],
)
def test_money_back_event_lacking_a_needed_field_is_rejected_and_the_rest_still_builds(
    event_type: str, edit: Callable, sim: StripeSim, sale: Callable, ledger: Callable
) -> None:
    flow, visit = sale(9900)
    bad_source = (
        sim.refund(flow, days(3), 3300) if event_type.startswith(("refund", "charge.refunded")) else None
    )
    if bad_source is None:
        bad_source = sim.dispute(flow, days(3), amount_minor=100)
    broken = copy.deepcopy(bad_source.first(event_type))
    broken["id"] = "evt_broken"
    edit(broken["data"]["object"])
    fine = sim.refund(flow, days(5), 4950)

    marts = ledger(flow.events + [broken] + without(fine.events, "charge.refunded"), [visit])

    assert marts.rejected.select("event_id", "event_type").rows() == [("evt_broken", event_type)]
    assert marts.rejected["reason"][0]
    assert marts.adjustments["amount_minor"].to_list() == [-4950]
    assert marts.of_kind("reversal") == [-990]
