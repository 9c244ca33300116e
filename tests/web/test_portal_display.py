"""What the portal shows an affiliate reads right: amounts in rules with the currency's decimals,
promotion codes a customer can still use with their dates, reasons in words, and the program's brand
colour only where it stays readable."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.program import parse_program
from tests.support.paths import DEMO_PROGRAM
from web.colours import READABLE, contrast, ink_on_white, text_on
from web.reasons import NOT_COMMISSIONABLE, no_commission
from web.rendering import rule_text, templates
from web.routes.portal import _codes


@pytest.mark.parametrize(
    ("rule", "currency", "shown"),
    [
        ("20% of 9900 usd, payment 1, month 1 of 12", "usd", "20% of 99.00 usd, payment 1, month 1 of 12"),
        (
            "refund 4300 usd: 4300 of 12900 taken back so far, so 430 of the 1290 commission",
            "usd",
            "refund 43.00 usd: 43.00 of 129.00 taken back so far, so 4.30 of the 12.90 commission",
        ),
        ("flat 500 usd per payment, first payment", "usd", "flat 5.00 usd per payment, first payment"),
        (
            "10% of 9900 usd (excl. 1000 tax), payment 2 (lifetime) (capped at 500)",
            "usd",
            "10% of 99.00 usd (excl. 10.00 tax), payment 2 (lifetime) (capped at 5.00)",
        ),
        (
            "10% of 12345 jpy (excl. 1000 tax), payment 2 (lifetime)",
            "jpy",
            "10% of 12345 jpy (excl. 1000 tax), payment 2 (lifetime)",
        ),
        (
            "20% of 12345 kwd (tier 'gold', 12 conversions this month), payment 1; terms v2 from 2026-01-01",
            "kwd",
            "20% of 12.345 kwd (tier 'gold', 12 conversions this month), payment 1; terms v2 from 2026-01-01",
        ),
        (
            "correction of cv_1:commission (frozen -430, now -530 usd)",
            "usd",
            "correction of cv_1:commission (frozen -4.30, now -5.30 usd)",
        ),
    ],
)
def test_a_rule_shows_its_amounts_with_the_currency_s_decimals_and_its_counts_as_they_are(
    rule: str, currency: str, shown: str
) -> None:
    # Audit: the portal said "19.80 USD pending 20% of 9900 usd": an affiliate reads $9,900.
    assert rule_text(rule, currency) == shown


def test_a_rule_in_another_currency_than_its_payment_and_a_reviewer_s_note_read_right() -> None:
    # Review: a flat USD offer's rule on a EUR payment stayed in cents; numbers in a rejection note
    # (free text) were taken for amounts.
    assert (
        rule_text("flat 500 usd per payment, first payment", "eur")
        == "flat 5.00 usd per payment, first payment"
    )
    note = "; rejected in review (paid_traffic): got 50 usd back (capped at 3 uses)"
    assert (
        rule_text("20% of 9900 usd, first payment" + note, "usd") == "20% of 99.00 usd, first payment" + note
    )


@pytest.mark.parametrize(
    ("held_now", "rejected", "note"),
    [
        (0, 0, "released since"),
        (0, 1980, "rejected since"),
        (1980, 0, ""),
        (1000, 0, "9.80 USD released since"),  # audit: "released since" beside the whole 19.80
        (500, 480, "10.00 USD released since 4.80 USD rejected since"),
    ],
)
def test_a_closed_months_held_amount_says_how_much_was_released_or_rejected_since(
    held_now: int, rejected: int, note: str
) -> None:
    macro = templates().env.from_string('{% from "_macros.html" import held_note %}{{ held_note(s) }}')
    statement = {
        "held_minor": 1980,
        "held_now_minor": held_now,
        "held_rejected_minor": rejected,
        "currency": "usd",
    }

    html = macro.render(s=statement)

    assert " ".join(re.sub(r"<[^>]+>", " ", html).split()) == note


def test_the_portal_lists_the_codes_a_customer_can_use_with_their_dates(tmp_path: Path) -> None:
    # Audit: an expired code and one valid only from next year were listed as the affiliate's codes,
    # without dates: sales through the expired one earn nothing (code_outside_validity).
    text = DEMO_PROGRAM.read_text(encoding="utf-8") + (
        '\n[[codes]]\ncode = "THEOOLD"\naffiliate = "theo"\noffer = "lifetime-10"\nvalid_until = 2026-10-31\n'
        '\n[[codes]]\ncode = "THEOSOON"\naffiliate = "theo"\noffer = "lifetime-10"\nvalid_from = 2027-06-01\n'
        "valid_until = 2027-06-30\n"
    )
    program = parse_program(tmp_path / "program.toml", text)

    shown = _codes(program, "theo", datetime(2026, 11, 1, tzinfo=UTC))

    assert shown == [
        {"code": "THEO20", "note": ""},
        {"code": "THEOSOON", "note": "from 2027-06-01 until 2027-06-30"},
    ]
    assert _codes(program, "theo", datetime(2026, 10, 31, 23, 59, tzinfo=UTC))[1] == {
        "code": "THEOOLD",
        "note": "until 2026-10-31",
    }


def test_a_reason_for_no_commission_reads_as_words() -> None:
    assert no_commission("currency_mismatch") == "paid in a currency the offer's flat amount is not in"
    assert no_commission("something_new") == "something_new"
    assert all(" " in words for words in NOT_COMMISSIONABLE.values())


def test_text_beside_any_brand_colour_reads_at_4_5_to_1() -> None:
    # Audit: `primary_color = "#ffff00"` made buttons white on yellow (1.07:1) and links yellow on white;
    # review: choosing the better of white and the ink still left 13 % of colours below 4.5:1.
    steps = range(0, 256, 17)
    for brand in (f"#{r:02x}{g:02x}{b:02x}" for r in steps for g in steps for b in steps):
        assert contrast(ink_on_white(brand), "#ffffff") >= READABLE, brand
        assert contrast(text_on(brand), brand) >= READABLE, brand
    assert text_on("#2f5bea") == "#ffffff" and text_on("#ffff00") == "#1d2330"


def test_a_page_asked_with_a_value_it_cannot_read_answers_with_a_page(web) -> None:
    # Audit: `?page=abc` on the portal (a hand-edited or cut link) answered FastAPI's JSON.
    for client, path in ((web.portal("jane"), "/portal/conversions"), (web.admin(), "/admin/conversions")):
        answer = client.get(path, params={"page": "abc"})
        assert answer.status_code == 400
        assert answer.headers["content-type"].startswith("text/html")
        assert "page: Input should be a valid integer" in answer.text


def test_a_pending_commission_says_when_it_becomes_payable(web, web_site) -> None:
    pending = web_site.query(
        "select affiliate_id, min(payable_on) from marts.commission_lines where status = 'pending'"
        " and livemode group by 1 order by 1 limit 1"
    )
    assert pending, "the fixture has a pending line"
    [(affiliate, payable_on)] = pending
    page = web.portal(affiliate).get("/portal/conversions").text
    assert f"payable from {payable_on:%Y-%m-%d}" in page
    assert "times in UTC" in page
