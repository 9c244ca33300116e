"""Promotion codes and leads attribute sales too: a code with no click, a sign-up that pays later, the
click-vs-code precedence and its visible loser, in both payload generations; and the daily funnel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from core.click_ids import new_click_id
from core.contracts import (
    AFFILIATE,
    CLICK,
    CODE,
    CONVERSION,
    LEAD,
    LINK,
    OFFER_TIER,
    RAW_CLICK,
    conform,
    empty,
)
from models.attribution import AttributionSettings
from models.funnel import funnel_daily
from models.marts import MartInputs, Marts, build_marts
from models.risk import RiskSettings
from simulator.landing import staged
from simulator.stripe import BASIL, LEGACY, Flow, StripeSim

AT = datetime(2026, 3, 2, 10, tzinfo=UTC)
NOW = AT + timedelta(days=120)
LINKS = pl.DataFrame(
    {
        "link_code": ["jane-pro", "omar-all", "lena-ebook"],
        "affiliate_id": ["jane", "omar", "lena"],
        "offer_id": ["pro-20", "lifetime-10", "ebook-flat"],
        "destination": ["https://shop.example/"] * 3,
    }
).pipe(conform, LINK)
API = pytest.mark.parametrize("api", [LEGACY, BASIL])


def click(at: datetime, affiliate: str = "jane") -> dict[str, Any]:
    link = LINKS.filter(pl.col("affiliate_id") == affiliate).row(0, named=True)
    return {
        "click_id": new_click_id(at),
        "clicked_at": at,
        "link_code": link["link_code"],
        "affiliate_id": affiliate,
        "offer_id": link["offer_id"],
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
        "is_bot": False,
        "source": "redirect",
    }


def code(**fields: Any) -> dict[str, Any]:
    return {"code": None, "promotion_code_id": None, "valid_from": None, "valid_until": None, **fields}


def run(
    flows: list[Flow],
    offers_frame: Callable[..., pl.DataFrame],
    clicks: list[dict[str, Any]] = (),  # type: ignore[assignment]
    codes: list[dict[str, Any]] = (),  # type: ignore[assignment]
    precedence: str = "click_first",
    lead_window_days: int = 90,
    bans: dict[str, datetime] | None = None,
) -> Marts:
    objects, rejected = staged([e for flow in flows for e in flow.events])
    inputs = MartInputs(
        objects=objects,
        clicks=conform(pl.DataFrame(list(clicks), infer_schema_length=None), RAW_CLICK)
        if clicks
        else empty(RAW_CLICK),
        offers=offers_frame(),
        tiers=empty(OFFER_TIER),
        now=NOW,
        rejected=rejected,
        risk=RiskSettings(hold=frozenset()),
        codes=pl.DataFrame(list(codes), schema=dict(CODE)) if codes else empty(CODE),
        links=LINKS,
        attribution=AttributionSettings(precedence, lead_window_days),
        affiliates=affiliates(bans or {}),
    )
    return build_marts(inputs)


def affiliates(bans: dict[str, datetime]) -> pl.DataFrame:
    """The program's affiliates (those of LINKS), `bans` banned from the given time."""
    ids = sorted(set(LINKS["affiliate_id"]))
    return pl.DataFrame(
        {
            "affiliate_id": ids,
            "name": ids,
            "status": ["banned" if a in bans else "active" for a in ids],
            "banned_from": [bans.get(a) for a in ids],
        }
    ).pipe(conform, AFFILIATE)


@API
def test_a_podcast_code_with_no_click_attributes_the_sale_and_every_renewal(api: str, offers_frame) -> None:
    sim = StripeSim(seed=1, livemode=True)
    promo = sim.promotion_code("ANA20", AT - timedelta(days=30), api_version=api)
    sub = sim.use_code(sim.subscription_checkout(AT, 9900, api_version=api), promo.promotion_code or "")
    assert sub.sub is not None
    renewals = [sim.renewal(sub.sub, AT + timedelta(days=31 * n), api_version=api) for n in (1, 2)]

    marts = run(
        [promo, sub, *renewals],
        offers_frame,
        codes=[code(code="ana20", affiliate_id="omar", offer_id="lifetime-10")],
    )

    conversions = marts.conversions.sort("occurred_at")
    assert (
        conversions.select("affiliate_id", "offer_id", "attribution_method", "click_id").rows()
        == [("omar", "lifetime-10", "promotion_code", None)] * 3
    )
    assert conversions["conversion_type"].to_list() == ["initial", "renewal", "renewal"]
    assert marts.payments["promotion_code"].to_list() == ["ANA20"] * 3
    assert marts.unattributed_payments.is_empty()


@API
def test_a_codes_own_stripe_metadata_names_its_affiliate(api: str, offers_frame) -> None:
    sim = StripeSim(seed=2, livemode=True)
    promo = sim.promotion_code(
        "LENA5", AT - timedelta(days=1), metadata={"rd_affiliate": "lena"}, api_version=api
    )
    sale = sim.use_code(sim.one_time_checkout(AT, 2500, api_version=api), promo.promotion_code or "")

    marts = run([promo, sale], offers_frame)

    assert marts.conversions.select("affiliate_id", "offer_id", "attribution_method").rows() == [
        ("lena", "ebook-flat", "promotion_code")  # the offer of lena's first link
    ]


def test_a_code_used_outside_its_mapping_is_unattributed_with_the_reason(offers_frame) -> None:
    sim = StripeSim(seed=3, livemode=True)
    promo = sim.promotion_code("SPRING", AT - timedelta(days=40))
    sale = sim.use_code(sim.one_time_checkout(AT, 4900), promo.promotion_code or "")
    mapping = code(
        promotion_code_id=promo.promotion_code,
        affiliate_id="jane",
        offer_id="pro-20",
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        valid_until=datetime(2026, 3, 1, tzinfo=UTC),
    )

    marts = run([promo, sale], offers_frame, codes=[mapping])

    (row,) = marts.unattributed_payments.rows(named=True)
    assert row["reason"] == "code_outside_validity"
    # valid_until 2026-02-28 in the program file: through that day (an exclusive 2026-03-01 00:00)
    assert row["detail"] == "code SPRING belongs to jane from 2026-01-01 through 2026-02-28"


@API
def test_a_code_whose_stripe_metadata_names_no_affiliate_of_the_program_makes_no_payee(
    api: str, offers_frame
) -> None:
    sim = StripeSim(seed=12, livemode=True)
    promo = sim.promotion_code(
        "GHOST", AT - timedelta(days=1), metadata={"rd_affiliate": "ghost"}, api_version=api
    )
    sale = sim.use_code(sim.one_time_checkout(AT, 10000, api_version=api), promo.promotion_code or "")

    marts = run([promo, sale], offers_frame)

    assert marts.conversions.is_empty() and marts.commission_lines.is_empty()
    (row,) = marts.unattributed_payments.rows(named=True)
    assert row["reason"] == "unknown_affiliate"
    assert row["detail"] == (
        "code GHOST names affiliate 'ghost' in its Stripe metadata (rd_affiliate), "
        "who is not in the program file"
    )


@API
def test_a_code_first_used_at_a_renewal_does_not_claim_the_subscription(api: str, offers_frame) -> None:
    sim = StripeSim(seed=13, livemode=True)
    promo = sim.promotion_code("KIM10", AT - timedelta(days=30), api_version=api)
    first = sim.subscription_checkout(AT, 9900, api_version=api)
    assert first.sub is not None
    renewal = sim.use_code(
        sim.renewal(first.sub, AT + timedelta(days=31), api_version=api), promo.promotion_code or ""
    )

    marts = run(
        [promo, first, renewal],
        offers_frame,
        codes=[code(code="KIM10", affiliate_id="omar", offer_id="lifetime-10")],
    )

    assert marts.conversions.is_empty()
    assert marts.unattributed_payments["reason"].to_list() == ["no_click_id"] * 2


@API
def test_a_banned_affiliates_code_earns_nothing_on_sales_from_the_ban_and_keeps_what_came_before(
    api: str, offers_frame
) -> None:
    sim = StripeSim(seed=14, livemode=True)
    promo = sim.promotion_code("THEO20", AT - timedelta(days=30), api_version=api)
    before = sim.use_code(sim.one_time_checkout(AT, 5000, api_version=api), promo.promotion_code or "")
    after = sim.use_code(
        sim.one_time_checkout(AT + timedelta(days=3), 7000, api_version=api), promo.promotion_code or ""
    )

    marts = run(
        [promo, before, after],
        offers_frame,
        codes=[code(code="THEO20", affiliate_id="omar", offer_id="lifetime-10")],
        bans={"omar": AT + timedelta(days=1)},
    )

    rows = marts.conversions.sort("occurred_at").select("amount_minor", "not_commissionable_reason").rows()
    assert rows == [(5000, None), (7000, "affiliate_banned")]


def test_a_code_that_belongs_to_nobody_changes_nothing(offers_frame) -> None:
    sim = StripeSim(seed=4, livemode=True)
    promo = sim.promotion_code("WELCOME10", AT - timedelta(days=1))
    sale = sim.use_code(sim.one_time_checkout(AT, 4900), promo.promotion_code or "")

    marts = run([promo, sale], offers_frame)

    assert marts.unattributed_payments["reason"].to_list() == ["no_click_id"]


@pytest.mark.parametrize(
    ("precedence", "winner", "method", "loser", "lost_by"),
    [
        ("click_first", "jane", "click_metadata", "omar", "promotion_code"),
        ("code_first", "omar", "promotion_code", "jane", "click_metadata"),
    ],
)
def test_a_click_and_a_code_of_different_affiliates_follow_the_precedence_and_the_loser_is_kept(
    precedence: str, winner: str, method: str, loser: str, lost_by: str, offers_frame
) -> None:
    sim = StripeSim(seed=5, livemode=True)
    c = click(AT - timedelta(days=2), "jane")
    promo = sim.promotion_code("OMAR15", AT - timedelta(days=9))
    sale = sim.use_code(sim.one_time_checkout(AT, 9900, click_id=c["click_id"]), promo.promotion_code or "")
    mapping = code(code="OMAR15", affiliate_id="omar", offer_id="lifetime-10")

    marts = run([promo, sale], offers_frame, clicks=[c], codes=[mapping], precedence=precedence)

    row = marts.conversions.row(0, named=True)
    assert (row["affiliate_id"], row["attribution_method"]) == (winner, method)
    assert (row["contested_by_affiliate_id"], row["contested_by_method"]) == (loser, lost_by)


@API
def test_a_trial_customer_who_pays_weeks_after_signing_up_is_attributed_through_the_lead(
    api: str, offers_frame
) -> None:
    sim = StripeSim(seed=6, livemode=True)
    c = click(AT - timedelta(hours=3), "jane")
    signup = sim.sign_up(AT, click_id=c["click_id"], api_version=api)
    trial = sim.subscription_checkout(
        AT + timedelta(minutes=5), 9900, customer=signup.customer, trial_days=21, api_version=api
    )
    assert trial.sub is not None
    first_paid = sim.renewal(trial.sub, AT + timedelta(days=21), api_version=api)

    marts = run([signup, trial, first_paid], offers_frame, clicks=[c])

    assert marts.leads.select("customer_id", "click_id", "affiliate_id", "reason").rows() == [
        (signup.customer, c["click_id"], "jane", None)
    ]
    assert marts.conversions.select(
        "affiliate_id", "attribution_method", "click_id", "conversion_type"
    ).rows() == [("jane", "lead", c["click_id"], "initial")]


@pytest.mark.parametrize(
    ("clicked_days_before", "paid_days_after", "lead_window", "reason"),
    [(2, 100, 90, "lead_expired"), (70, 5, 90, "lead_click_expired")],
)
def test_a_lead_that_cannot_attribute_says_why(
    clicked_days_before: int, paid_days_after: int, lead_window: int, reason: str, offers_frame
) -> None:
    sim = StripeSim(seed=7, livemode=True)
    c = click(AT - timedelta(days=clicked_days_before), "jane")  # pro-20: a 60-day window
    signup = sim.sign_up(AT, click_id=c["click_id"])
    sale = sim.one_time_checkout(AT + timedelta(days=paid_days_after), 9900, customer=signup.customer)

    marts = run([signup, sale], offers_frame, clicks=[c], lead_window_days=lead_window)

    assert marts.unattributed_payments["reason"].to_list() == [reason]


def test_the_funnel_counts_clicks_leads_customers_payments_and_revenue_per_day(offers_frame) -> None:
    sim = StripeSim(seed=8, livemode=True)
    clicks = [click(AT - timedelta(hours=5), "jane"), click(AT - timedelta(hours=4), "jane")]
    signup = sim.sign_up(AT - timedelta(hours=3), click_id=clicks[0]["click_id"])
    sale = sim.one_time_checkout(AT, 9900, customer=signup.customer)
    marts = run([signup, sale], offers_frame, clicks=clicks)

    day = marts.funnel_daily.filter(pl.col("day") == date(2026, 3, 2))
    visits = day.filter(pl.col("currency").is_null()).row(0, named=True)
    money = day.filter(pl.col("currency") == "usd").row(0, named=True)
    assert (visits["clicks"], visits["leads"], visits["link_code"]) == (2, 1, "jane-pro")
    assert (money["new_customers"], money["payments"], money["revenue_minor"], money["commission_minor"]) == (
        1,
        1,
        9900,
        1980,
    )


def test_a_held_commission_approved_after_its_month_closed_counts_once_in_the_funnel(
    line: Callable, lines_frame: Callable
) -> None:
    # Audit: the funnel counts held lines (earned, waiting for review); the correction that pays the
    # held line once approved after its month closed was counted again: 4000 for a 2000 commission.
    held = line(2000, period="2026-03", status="held")
    corrected = held | {
        "line_id": f"{held['line_id']}:correction:2026-04",
        "period": "2026-04",
        "status": "approved",
    }
    other = line(500, period="2026-03")
    lines = lines_frame(held, corrected, other)

    funnel = funnel_daily(empty(CLICK), empty(LEAD), empty(CONVERSION), lines)

    assert funnel["commission_minor"].sum() == 2500


def test_a_lead_customers_later_purchases_continue_the_leads_attribution(offers_frame) -> None:
    # Audit: each later purchase with no click was judged against the lead on its own: a second
    # 'initial' (payment 1 again, a flat first-payment offer paid twice), and a purchase past the lead
    # window unattributed, where a customer who came through a click continues: payment 2, 3.
    sim = StripeSim(seed=21, livemode=True)
    c = click(AT - timedelta(hours=3), "omar")
    signup = sim.sign_up(AT, click_id=c["click_id"])
    sales = [
        sim.one_time_checkout(AT + timedelta(days=days), 5000, customer=signup.customer)
        for days in (9, 29, 99)
    ]

    marts = run([signup, *sales], offers_frame, clicks=[c])

    rows = marts.conversions.sort("occurred_at").select(
        "payment_number", "conversion_type", "attribution_method", "affiliate_id"
    )
    assert rows.rows() == [
        (1, "initial", "lead", "omar"),
        (2, "renewal", "customer_earlier", "omar"),
        (3, "renewal", "customer_earlier", "omar"),  # 99 days after signing up: the first came within 90
    ]
    assert marts.unattributed_payments.is_empty()


def test_the_first_event_that_made_a_customer_a_lead_counts_not_a_later_update(offers_frame) -> None:
    # Audit: every customer.* event of a customer has the customer's `created`, so the tie fell to the
    # event id: a later customer.updated naming another click could win, and the lead then failed.
    sim = StripeSim(seed=22, livemode=True)
    jane, omar = click(AT - timedelta(hours=3), "jane"), click(AT + timedelta(days=1), "omar")
    signup = sim.sign_up(AT, click_id=jane["click_id"])
    created = signup.events[0]
    updated = created | {
        "id": "evt_0000000000000000000000aa",  # sorts before any other id
        "type": "customer.updated",
        "created": created["created"] + 86400 + 3600,
        "data": {"object": created["data"]["object"] | {"metadata": {"rd_click_id": omar["click_id"]}}},
    }
    sale = sim.one_time_checkout(AT + timedelta(days=5), 9900, customer=signup.customer)

    marts = run(
        [signup, Flow(events=[updated], api_version=signup.api_version), sale],
        offers_frame,
        clicks=[jane, omar],
    )

    assert marts.leads.select("click_id", "affiliate_id", "reason").rows() == [
        (jane["click_id"], "jane", None)
    ]
    assert marts.conversions.select("affiliate_id", "attribution_method").rows() == [("jane", "lead")]


def test_a_lead_customers_purchase_after_another_affiliates_click_continues_the_earliest(
    offers_frame,
) -> None:
    # Review: a no-click purchase after a later direct click went to that click's affiliate, where a
    # customer whose first purchase came through a click keeps the earliest attribution.
    sim = StripeSim(seed=23, livemode=True)
    omar, jane = click(AT - timedelta(hours=3), "omar"), click(AT + timedelta(days=19), "jane")
    signup = sim.sign_up(AT, click_id=omar["click_id"])
    first = sim.one_time_checkout(AT + timedelta(days=9), 5000, customer=signup.customer)
    clicked = sim.one_time_checkout(
        AT + timedelta(days=20), 5000, customer=signup.customer, click_id=jane["click_id"]
    )
    later = sim.one_time_checkout(AT + timedelta(days=30), 5000, customer=signup.customer)

    marts = run([signup, first, clicked, later], offers_frame, clicks=[omar, jane])

    rows = marts.conversions.sort("occurred_at").select(
        "payment_number", "attribution_method", "affiliate_id"
    )
    assert rows.rows() == [
        (1, "lead", "omar"),
        (1, "click_metadata", "jane"),
        (2, "customer_earlier", "omar"),
    ]


@API
def test_a_click_a_renewal_names_after_the_subscription_started_does_not_take_it_from_the_customer(
    offers_frame, api
) -> None:
    # Audit: the merchant put a later click of omar's into the subscription's metadata; the chain's
    # click became that one, judged click_after_payment, and every payment of a subscription that
    # was jane's (the customer's earlier purchase) went unattributed, back to the first, in closed
    # months too (corrections). The late click does not count: the chain keeps jane's.
    sim = StripeSim(seed=31, livemode=True)
    jane, omar = click(AT - timedelta(days=1), "jane"), click(AT + timedelta(days=10), "omar")
    first = sim.one_time_checkout(AT, 5000, click_id=jane["click_id"], api_version=api)
    sub = sim.subscription_checkout(AT + timedelta(days=3), 9900, customer=first.customer, api_version=api)
    renewal = sim.renewal(sub.sub, AT + timedelta(days=34), api_version=api)
    sub.sub.metadata = {"rd_click_id": omar["click_id"]}
    named = sim.renewal(sub.sub, AT + timedelta(days=65), api_version=api)

    marts = run([first, sub, renewal, named], offers_frame, clicks=[jane, omar])

    rows = marts.conversions.sort("occurred_at").select(
        "payment_number", "attribution_method", "affiliate_id"
    )
    assert rows.rows() == [
        (1, "click_metadata", "jane"),
        (2, "customer_earlier", "jane"),
        (3, "customer_earlier", "jane"),
        (4, "customer_earlier", "jane"),
    ]
    assert marts.unattributed_payments.is_empty()


def test_a_subscription_started_before_a_purchase_through_another_click_keeps_its_lead(offers_frame) -> None:
    # Audit: a trial started (checkout) with no click after a sign-up through jane's link; omar's
    # click and a one-time purchase came during the trial. The trial's first paid invoice inherited
    # omar's purchase ("customer earlier" compared with the first payment, not the checkout), on every
    # renewal, where the lead gives it to jane; without the lead it went to omar all the same.
    for with_lead in (True, False):
        sim = StripeSim(seed=41, livemode=True)
        jane, omar = click(AT - timedelta(hours=3), "jane"), click(AT + timedelta(days=4), "omar")
        signup = sim.sign_up(AT, click_id=jane["click_id"] if with_lead else None)
        trial = sim.subscription_checkout(
            AT + timedelta(minutes=5), 9900, customer=signup.customer, trial_days=14
        )
        ebook = sim.one_time_checkout(
            AT + timedelta(days=5), 2500, customer=signup.customer, click_id=omar["click_id"]
        )
        paid = sim.renewal(trial.sub, AT + timedelta(days=14))

        marts = run([signup, trial, ebook, paid], offers_frame, clicks=[jane, omar])

        rows = marts.conversions.sort("occurred_at").select(
            "payment_id", "attribution_method", "affiliate_id"
        )
        assert rows.row(0)[1:] == ("click_metadata", "omar")  # the ebook
        subscription = [row[1:] for row in rows.rows()[1:]]
        if with_lead:
            assert subscription == [("lead", "jane")]
        else:
            assert subscription == []
            assert marts.unattributed_payments["reason"].to_list() == ["no_click_id"]


def _paid_partly_by_credit(flow: Flow, total: int, paid: int) -> Flow:
    """`flow`'s invoice with `total - paid` of it paid from the customer's balance: Stripe's amount_paid
    and the charge are what was paid in money."""
    for event in flow.events:
        obj = event["data"]["object"]
        if obj["object"] == "invoice":
            obj.update(total=total, amount_due=paid, amount_paid=paid, starting_balance=paid - total)
        elif obj["object"] == "invoice_payment":
            obj.update(amount_paid=paid, amount_requested=paid)
        elif obj["object"] == "charge":
            obj.update(amount=paid, amount_captured=paid)
        elif obj["object"] == "payment_intent":
            obj.update(amount=paid, amount_received=paid)
    return flow


@API
def test_a_taxed_invoice_paid_partly_by_credit_takes_off_only_the_tax_in_what_was_paid(
    offers_frame, api
) -> None:
    # Audit: the whole invoice's tax came off the money paid: a renewal of 110.00 (10.00 tax) with
    # 50.00 of credit earned 20% of 50.00 (60.00 - 10.00) instead of 20% of 54.55 (60.00 less its
    # share of the tax, 5.45); an invoice whose credit left less than the tax earned nothing.
    sim = StripeSim(seed=51, livemode=True)
    c = click(AT - timedelta(hours=1), "jane")
    sub = sim.subscription_checkout(AT, 11000, click_id=c["click_id"], tax_minor=1000, api_version=api)
    renewal = _paid_partly_by_credit(
        sim.renewal(sub.sub, AT + timedelta(days=31), api_version=api), 11000, 6000
    )
    small = _paid_partly_by_credit(sim.renewal(sub.sub, AT + timedelta(days=62), api_version=api), 11000, 800)

    marts = run([sub, renewal, small], offers_frame, clicks=[c])

    rows = marts.conversions.sort("occurred_at").select(
        "amount_minor", "base_amount_minor", "commission_minor"
    )
    assert rows.rows() == [(11000, 10000, 2000), (6000, 5455, 1091), (800, 727, 145)]


@API
def test_the_tax_share_of_a_large_invoice_paid_partly_by_credit_is_exact(offers_frame, api) -> None:
    # Review: tax × paid passed 64 bits for an IDR 1.1 bn invoice (wrapped: 10.9 M overpaid).
    sim = StripeSim(seed=52, livemode=True)
    c = click(AT - timedelta(hours=1), "jane")
    big, tax, paid = 110_000_000_000, 10_000_000_000, 60_000_000_000
    sub = sim.subscription_checkout(
        AT, big, currency="idr", click_id=c["click_id"], tax_minor=tax, api_version=api
    )
    renewal = _paid_partly_by_credit(
        sim.renewal(sub.sub, AT + timedelta(days=31), api_version=api), big, paid
    )

    marts = run([sub, renewal], offers_frame, clicks=[c])

    row = marts.conversions.sort("occurred_at").select("base_amount_minor", "commission_minor").row(1)
    assert row == (54_545_454_545, 10_909_090_909)


def test_a_lead_customers_trial_and_a_purchase_during_it_both_continue_the_lead(offers_frame) -> None:
    # Review: after the customer-inheritance fix the lead's first chain was still picked by its first
    # payment (the ebook bought during the trial), and the trial, started before it, could not inherit
    # from it: both subscription invoices went unattributed.
    sim = StripeSim(seed=41, livemode=True)
    jane = click(AT - timedelta(hours=3), "jane")
    signup = sim.sign_up(AT, click_id=jane["click_id"])
    trial = sim.subscription_checkout(
        AT + timedelta(minutes=5), 9900, customer=signup.customer, trial_days=14
    )
    ebook = sim.one_time_checkout(AT + timedelta(days=5), 2500, customer=signup.customer)
    paid = [sim.renewal(trial.sub, AT + timedelta(days=days)) for days in (14, 45)]

    marts = run([signup, trial, ebook, *paid], offers_frame, clicks=[jane])

    rows = marts.conversions.sort("occurred_at").select("amount_minor", "attribution_method", "affiliate_id")
    assert rows.rows() == [(2500, "customer_earlier", "jane"), (9900, "lead", "jane"), (9900, "lead", "jane")]
    assert marts.unattributed_payments.is_empty()


def test_the_payment_that_names_a_click_made_after_its_chain_started_says_so(offers_frame) -> None:
    # Review: with the late click left out, the renewal naming it said no_click_id (whose advice is to
    # check the checkout passes rd_click_id), where it said click_after_payment with the click's time.
    sim = StripeSim(seed=32, livemode=True)
    omar = click(AT + timedelta(days=10), "omar")
    sub = sim.subscription_checkout(AT, 9900)
    renewal = sim.renewal(sub.sub, AT + timedelta(days=31))
    sub.sub.metadata = {"rd_click_id": omar["click_id"]}
    named = sim.renewal(sub.sub, AT + timedelta(days=62))

    marts = run([sub, renewal, named], offers_frame, clicks=[omar])

    rows = marts.unattributed_payments.sort("occurred_at").select("reason", "click_id").rows()
    assert rows == [("no_click_id", None), ("no_click_id", None), ("click_after_payment", omar["click_id"])]
    assert "after the purchase at" in marts.unattributed_payments.sort("occurred_at")["detail"][2]


@pytest.mark.parametrize("late", ["unknown", "bot", "expired"])
def test_a_late_named_click_that_does_not_count_leaves_the_subscription_with_the_customer(
    offers_frame, late
) -> None:
    # Review: the exception for a late-named click made after the chain started did not cover a late
    # click id that was unknown, a bot's or expired: the whole subscription went unattributed again.
    sim = StripeSim(seed=33, livemode=True)
    jane = click(AT - timedelta(days=1), "jane")
    other = click(AT - timedelta(days=400 if late == "expired" else 1), "omar")
    if late == "bot":
        other["is_bot"] = True
    named_id = "not-ours" if late == "unknown" else other["click_id"]
    first = sim.one_time_checkout(AT, 5000, click_id=jane["click_id"])
    sub = sim.subscription_checkout(AT + timedelta(days=3), 9900, customer=first.customer)
    sub.sub.metadata = {"rd_click_id": named_id}
    named = sim.renewal(sub.sub, AT + timedelta(days=34))

    marts = run([first, sub, named], offers_frame, clicks=[jane, other])

    rows = marts.conversions.sort("occurred_at").select("attribution_method", "affiliate_id").rows()
    assert rows == [("click_metadata", "jane"), ("customer_earlier", "jane"), ("customer_earlier", "jane")]


def test_a_lead_counts_for_a_trial_checked_out_inside_its_window_and_a_purchase_during_it(
    offers_frame,
) -> None:
    # Review: the lead window was measured to the trial's first payment (day 99 of 90: lead_expired),
    # though the lead's chain is picked by its start; and with the trial expired no chain of the
    # customer got the lead, not even a purchase on day 88.
    sim = StripeSim(seed=50, livemode=True)
    jane = click(AT - timedelta(hours=3), "jane")
    signup = sim.sign_up(AT, click_id=jane["click_id"])
    trial = sim.subscription_checkout(AT + timedelta(days=85), 9900, customer=signup.customer, trial_days=14)
    ebook = sim.one_time_checkout(AT + timedelta(days=88), 2500, customer=signup.customer)
    paid = sim.renewal(trial.sub, AT + timedelta(days=99))

    marts = run([signup, trial, ebook, paid], offers_frame, clicks=[jane])

    rows = marts.conversions.sort("occurred_at").select("amount_minor", "attribution_method", "affiliate_id")
    assert rows.rows() == [(2500, "customer_earlier", "jane"), (9900, "lead", "jane")]
    assert marts.unattributed_payments.is_empty()


def test_a_payment_past_its_lead_window_says_so_not_why_a_late_click_did_not_count(offers_frame) -> None:
    # Review: the row said lead_expired with the late click's "clicked …, after the purchase" detail.
    sim = StripeSim(seed=48, livemode=True)
    jane, omar = click(AT - timedelta(hours=3), "jane"), click(AT + timedelta(days=200), "omar")
    signup = sim.sign_up(AT, click_id=jane["click_id"])
    sub = sim.subscription_checkout(AT + timedelta(days=100), 9900, customer=signup.customer)
    sub.sub.metadata = {"rd_click_id": omar["click_id"]}
    named = sim.renewal(sub.sub, AT + timedelta(days=210))

    marts = run([signup, sub, named], offers_frame, clicks=[jane, omar])

    rows = marts.unattributed_payments.sort("occurred_at").select("reason", "detail").rows()
    assert [reason for reason, _ in rows] == ["lead_expired", "lead_expired"]
    assert all("after the purchase" not in (detail or "") for _, detail in rows)


def _renewals_naming(
    sim: StripeSim, first: dict[str, Any], second: dict[str, Any]
) -> tuple[Flow, Flow, Flow]:
    """A subscription started at AT naming no click, whose first renewal names `first` and second
    renewal `second` (clicks put into its metadata after it started)."""
    sub = sim.subscription_checkout(AT, 9900)
    assert sub.sub is not None
    sub.sub.metadata = {"rd_click_id": first["click_id"]}
    one = sim.renewal(sub.sub, AT + timedelta(days=31))
    sub.sub.metadata = {"rd_click_id": second["click_id"]}
    return sub, one, sim.renewal(sub.sub, AT + timedelta(days=62))


def test_a_subscription_passes_over_a_late_click_that_does_not_count_to_a_later_named_one_that_does(
    offers_frame,
) -> None:
    # Left for later in stop 39: only the first click a chain named was judged, so a renewal naming
    # omar's click made after the start, then one naming jane's made before it, left the whole
    # subscription unattributed, the second renewal saying no_click_id beside jane's click id.
    jane, omar = click(AT - timedelta(days=2), "jane"), click(AT + timedelta(days=10), "omar")
    sub, wrong, right = _renewals_naming(StripeSim(seed=34, livemode=True), omar, jane)

    marts = run([right, sub, wrong], offers_frame, clicks=[omar, jane])

    rows = marts.conversions.sort("occurred_at").select("payment_number", "affiliate_id", "click_id").rows()
    assert rows == [(number, "jane", jane["click_id"]) for number in (1, 2, 3)]
    assert marts.unattributed_payments.is_empty()


def test_each_payment_naming_a_late_click_that_does_not_count_says_its_own_reason(offers_frame) -> None:
    omar, bot = click(AT + timedelta(days=10), "omar"), click(AT - timedelta(days=1), "jane")
    bot["is_bot"] = True
    sub, after, by_bot = _renewals_naming(StripeSim(seed=35, livemode=True), omar, bot)

    marts = run([sub, after, by_bot], offers_frame, clicks=[omar, bot])

    rows = marts.unattributed_payments.sort("occurred_at").select("reason", "click_id").rows()
    assert rows == [
        ("no_click_id", None),
        ("click_after_payment", omar["click_id"]),
        ("bot_click", bot["click_id"]),
    ]


def test_a_renewal_naming_another_click_than_the_one_that_decided_says_whose_reason_it_is(
    offers_frame,
) -> None:
    # Review: the renewal's row paired jane's click id with "clicked 100 days before the purchase" of
    # omar's expired click, which its subscription's first payment named and which decides it.
    sim = StripeSim(seed=36, livemode=True)
    omar, jane = click(AT - timedelta(days=400), "omar"), click(AT - timedelta(days=2), "jane")
    sub = sim.subscription_checkout(AT, 9900, click_id=omar["click_id"])
    sub.sub.metadata = {"rd_click_id": jane["click_id"]}
    renewal = sim.renewal(sub.sub, AT + timedelta(days=31))

    marts = run([sub, renewal], offers_frame, clicks=[omar, jane])

    first, later = marts.unattributed_payments.sort("occurred_at").rows(named=True)
    assert (first["reason"], first["click_id"]) == ("click_expired", omar["click_id"])
    assert first["detail"].startswith("clicked 40")
    assert (later["reason"], later["click_id"]) == ("click_expired", jane["click_id"])
    assert later["detail"].startswith(
        f"the subscription is judged by click {omar['click_id']}, which its first"
    )


def test_a_click_put_into_a_trials_metadata_during_the_trial_does_not_take_it_from_the_lead(
    offers_frame,
) -> None:
    # Review: named by the trial's first paid invoice, a click made during the trial decided the chain
    # (click_after_payment) and the lead was lost; named one invoice later it was passed over.
    sim = StripeSim(seed=37, livemode=True)
    jane, omar = click(AT - timedelta(hours=3), "jane"), click(AT + timedelta(days=5), "omar")
    signup = sim.sign_up(AT, click_id=jane["click_id"])
    trial = sim.subscription_checkout(AT + timedelta(days=1), 9900, customer=signup.customer, trial_days=14)
    assert trial.sub is not None
    trial.sub.metadata = {"rd_click_id": omar["click_id"]}
    paid = sim.renewal(trial.sub, AT + timedelta(days=15))

    marts = run([signup, trial, paid], offers_frame, clicks=[jane, omar])

    rows = marts.conversions.select("attribution_method", "affiliate_id").rows()
    assert rows == [("lead", "jane")]
    assert marts.unattributed_payments.is_empty()


def test_a_purchase_naming_a_click_stamped_after_it_says_so_whatever_the_customer_had_before(
    offers_frame,
) -> None:
    # Review: passing over every click made after its chain started (meant for a click put into a
    # trial's metadata) gave a purchase naming its own click, stamped 90 s after it (clock skew), to
    # the customer's earlier affiliate.
    sim = StripeSim(seed=38, livemode=True)
    jane, omar = click(AT - timedelta(days=3), "jane"), click(AT + timedelta(seconds=90), "omar")
    before = sim.one_time_checkout(AT - timedelta(days=2), 2500, click_id=jane["click_id"])
    now = sim.one_time_checkout(AT, 4900, click_id=omar["click_id"], customer=before.customer)

    marts = run([before, now], offers_frame, clicks=[jane, omar])

    assert marts.conversions.select("payment_id", "affiliate_id").rows() == [(before.payment_intent, "jane")]
    (row,) = marts.unattributed_payments.rows(named=True)
    assert (row["reason"], row["click_id"]) == ("click_after_payment", omar["click_id"])


def test_a_bank_debit_checkouts_own_click_stamped_before_it_settled_decides_it(offers_frame) -> None:
    # Review: the gap between a checkout and its first payment was taken for a trial: a bank-debit
    # purchase's own click, stamped after the checkout and before the money settled, was passed over
    # and the purchase went to the customer's earlier affiliate.
    sim = StripeSim(seed=39, livemode=True)
    jane, omar = click(AT - timedelta(days=3), "jane"), click(AT + timedelta(seconds=90), "omar")
    before = sim.one_time_checkout(AT - timedelta(days=2), 2500, click_id=jane["click_id"])
    now = sim.async_checkout(AT, 4900, click_id=omar["click_id"], customer=before.customer, succeeds=True)

    marts = run([before, now], offers_frame, clicks=[jane, omar])

    assert marts.conversions["affiliate_id"].to_list() == ["jane"]
    (row,) = marts.unattributed_payments.rows(named=True)
    assert (row["reason"], row["click_id"]) == ("click_after_payment", omar["click_id"])
