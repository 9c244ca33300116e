"""Offer terms in the program file: validated at load (file, entry and problem named), versions resolved."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from core.program import Offer, ProgramError, load_program
from tests.support.paths import DEMO_PROGRAM, REPO

HEAD = """
[[affiliates]]
id = "jane"
name = "Jane"
"""
LINK = """
[[links]]
code = "jane-x"
affiliate = "jane"
offer = "x"
destination = "https://shop.example/"
"""


def program_file(tmp_path: Path, offer: str) -> Path:
    path = tmp_path / "program.toml"
    path.write_text(HEAD + '\n[[offers]]\nid = "x"\nname = "Offer X"\n' + offer + LINK, encoding="utf-8")
    return path


def load_offer(tmp_path: Path, offer: str) -> Offer:
    """Offer "x" as loaded from a program file with these terms."""
    return load_program(program_file(tmp_path, offer)).offer("x")


BAD_OFFERS = [
    # Audit: lax types turned these into other money or terms (5.00 -> 5 cents, true -> 1 day)
    pytest.param(
        'type = "flat"\namount_minor = 5.00\ncurrency = "usd"\n',
        [
            "offers[0] (id 'x').amount_minor",
            "must be a whole number, written without quotes or decimals; got 5.0",
        ],
        id="flat-amount-in-dollars",
    ),
    pytest.param(
        'type = "flat"\namount_minor = "500"\ncurrency = "usd"\n',
        ["offers[0] (id 'x').amount_minor", "must be a whole number"],
        id="flat-amount-quoted",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\nholding_days = true\n',
        ["offers[0] (id 'x').holding_days", "must be a whole number"],
        id="holding-days-boolean",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\nrecurring = "fixed_period"\nrecurring_months = true\n',
        ["offers[0] (id 'x').recurring_months", "must be a whole number"],
        id="recurring-months-boolean",
    ),
    pytest.param(
        'type = "flat"\namount_minor = 99999999999999999999\ncurrency = "usd"\n',
        ["offers[0] (id 'x').amount_minor", "less than or equal to 999999999999"],
        id="flat-amount-beyond-bigint",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\namount_minor = 500\n',
        ["offers[0] (id 'x')", "type = 'percent' takes percent, not amount_minor"],
        id="percent-offer-with-an-amount",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\n[[offers.versions]]\neffective_from = 1\npercent = 25\n',
        ["offers[0] (id 'x').versions[0].effective_from", "not a number"],
        id="version-date-as-a-number",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\nrecurring = "monthly"\n',
        ["offers[0] (id 'x').recurring", "'first_payment', 'lifetime' or 'fixed_period'"],
        id="unknown-recurring-mode",
    ),
    pytest.param(
        'type = "percent"\npercent = -5\n',
        ["offers[0] (id 'x').percent", "greater than 0"],
        id="negative-rate",
    ),
    pytest.param(
        'type = "percent"\npercent = 101\n',
        ["offers[0] (id 'x').percent", "less than or equal to 100"],
        id="rate-over-100",
    ),
    pytest.param(
        'type = "flat"\namount_minor = -500\ncurrency = "usd"\n',
        ["offers[0] (id 'x').amount_minor", "greater than 0"],
        id="negative-flat-amount",
    ),
    pytest.param(
        'type = "percent"\npercent = 10\n'
        '[[offers.tiers]]\nname = "gold"\nmin_conversions = 5\npercent = 15\n'
        '[[offers.tiers]]\nname = "silver"\nmin_conversions = 3\npercent = 12\n',
        ["offers[0] (id 'x')", "tiers[1] ('silver'): min_conversions must increase (3 after 5)"],
        id="tier-thresholds-do-not-increase",
    ),
    pytest.param(
        'type = "percent"\npercent = 10\n'
        '[[offers.tiers]]\nname = "a"\nmin_conversions = 3\npercent = 12\n'
        '[[offers.tiers]]\nname = "b"\nmin_conversions = 3\npercent = 15\n',
        ["offers[0] (id 'x')", "tiers[1] ('b'): min_conversions must increase (3 after 3)"],
        id="tier-thresholds-repeat",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\n'
        '[[offers.tiers]]\nname = "top"\nmin_conversions = 10\npercent = 15\n',
        ["offers[0] (id 'x')", "tiers[0] ('top'): percent 15 is below the offer's 20"],
        id="tier-rate-below-base-rate",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\n'
        "[[offers.versions]]\neffective_from = 2026-02-01\npercent = 25\n"
        "[[offers.versions]]\neffective_from = 2026-02-01\npercent = 30\n",
        ["offers[0] (id 'x')", "versions[1]: effective_from 2026-02-01 repeats versions[0]"],
        id="two-versions-same-effective-from",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\n'
        "[[offers.versions]]\neffective_from = 2026-02-01\npercent = 25\n"
        "[[offers.versions]]\neffective_from = 2026-02-01T00:00:00Z\npercent = 30\n",
        ["offers[0] (id 'x')", "versions[1]", "repeats versions[0]"],
        id="same-effective-from-as-date-and-midnight",
    ),
    pytest.param(
        'type = "flat"\namount_minor = 500\n',
        ["offers[0] (id 'x')", "type = 'flat' needs amount_minor and currency"],
        id="flat-without-currency",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\nmax_commission_minor = 5000\n',
        ["offers[0] (id 'x')", "caps (max_commission_minor, max_customer_commission_minor) need currency"],
        id="per-conversion-cap-without-currency",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\nmax_customer_commission_minor = 5000\n',
        ["offers[0] (id 'x')", "need currency"],
        id="per-customer-cap-without-currency",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\nrecurring = "fixed_period"\n',
        ["offers[0] (id 'x')", "recurring = 'fixed_period' needs recurring_months"],
        id="fixed-period-without-months",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\n[[offers.versions]]\neffective_from = 2026-02-01\ntype = "flat"\n',
        ["offers[0] (id 'x')", "version from 2026-02-01: type = 'flat' needs amount_minor and currency"],
        id="version-leaves-terms-incomplete",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\n[[offers.tiers]]\nname = "top"\nmin_conversions = 3\npercent = 25\n'
        "[[offers.versions]]\neffective_from = 2026-02-01\npercent = 30\n",
        [
            "offers[0] (id 'x')",
            "version from 2026-02-01",
            "tiers[0] ('top'): percent 25 is below the offer's 30",
        ],
        id="version-raises-base-above-inherited-tier",
    ),
    pytest.param(
        'type = "percent"\npercent = 20\n[[offers.versions]]\neffective_from = 2026-02-01\npercentage = 25\n',
        ["offers[0] (id 'x').versions[0].percentage", "Extra inputs are not permitted"],
        id="misspelled-key-in-a-version",
    ),
    pytest.param(
        'type = "percent"\npercent = 12.34567\n',
        ["offers[0] (id 'x').percent", "decimal places"],
        id="percent-with-more-than-4-decimals",
    ),
    pytest.param(
        'type = "percent"\npercent = 12\n'
        '[[offers.tiers]]\nname = "top"\nmin_conversions = 3\npercent = 12.34565\n',
        ["offers[0] (id 'x').tiers[0].percent", "decimal places"],
        id="tier-percent-with-more-than-4-decimals",
    ),
]


@pytest.mark.parametrize(("offer", "fragments"), BAD_OFFERS)
def test_a_bad_offer_is_refused_at_load_naming_file_entry_and_problem(
    tmp_path: Path, offer: str, fragments: list[str]
) -> None:
    path = program_file(tmp_path, offer)

    with pytest.raises(ProgramError) as refused:
        load_program(path)

    message = str(refused.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message


def test_a_repeated_link_code_or_id_is_named_by_its_own_key(tmp_path: Path) -> None:
    path = program_file(tmp_path, 'type = "percent"\npercent = 20\n')
    path.write_text(path.read_text() + LINK, encoding="utf-8")

    with pytest.raises(ProgramError, match=r"links\[1\]: duplicate code 'jane-x'"):
        load_program(path)

    path.write_text(HEAD + path.read_text(), encoding="utf-8")
    with pytest.raises(ProgramError, match=r"affiliates\[1\]: duplicate id 'jane'"):
        load_program(path)


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        (
            ('code = "THEO20"', 'code = "theo20"'),
            "codes[1] (code 'theo20'): duplicate code, already codes[0] "
            "(codes are matched case-insensitively)",
        ),
        (
            ('promotion_code = "promo_1A"', 'promotion_code = "promo_1A"'),
            "codes[1] (promotion_code 'promo_1A'): duplicate promotion_code, already codes[0]",
        ),
    ],
)
def test_a_promotion_code_mapped_twice_is_refused_naming_both_entries(
    tmp_path: Path, keys: tuple[str, str], problem: str
) -> None:
    path = program_file(tmp_path, 'type = "percent"\npercent = 20\n')
    for key in keys:
        path.write_text(path.read_text() + f'\n[[codes]]\n{key}\naffiliate = "jane"\noffer = "x"\n')

    with pytest.raises(ProgramError) as refused:
        load_program(path)

    assert problem in str(refused.value)


def test_decimal_percent_is_kept_exactly(tmp_path: Path) -> None:
    offer = load_offer(tmp_path, 'type = "percent"\npercent = 12.35\n')

    assert offer.percent == Decimal("12.35")
    assert load_offer(tmp_path, 'type = "percent"\npercent = "12.5"\n').percent == Decimal("12.5")


def test_versions_build_on_the_previous_one_in_effective_from_order(tmp_path: Path) -> None:
    offer = load_offer(
        tmp_path,
        'type = "percent"\npercent = 20\nrecurring = "fixed_period"\nrecurring_months = 12\n'
        "holding_days = 14\n"
        # listed out of order on purpose
        '[[offers.versions]]\neffective_from = 2026-04-01\nrecurring = "lifetime"\n'
        "[[offers.versions]]\neffective_from = 2026-02-01\npercent = 25\n",
    )

    v1, v2, v3 = offer.resolved_versions()

    assert (v1.version, v1.effective_at) == (1, None)
    assert (v1.terms.percent, v1.terms.recurring, v1.terms.recurring_months) == (20, "fixed_period", 12)
    assert (v2.version, v2.effective_at) == (2, datetime(2026, 2, 1, tzinfo=UTC))
    assert (v2.terms.percent, v2.terms.recurring, v2.terms.recurring_months) == (25, "fixed_period", 12)
    assert (v3.version, v3.effective_at) == (3, datetime(2026, 4, 1, tzinfo=UTC))
    assert (v3.terms.percent, v3.terms.recurring, v3.terms.recurring_months) == (25, "lifetime", None)
    assert v1.terms.holding_days == v2.terms.holding_days == v3.terms.holding_days == 14


def test_a_version_switching_to_flat_drops_percent_and_tiers(tmp_path: Path) -> None:
    offer = load_offer(
        tmp_path,
        'type = "percent"\npercent = 10\n'
        '[[offers.tiers]]\nname = "top"\nmin_conversions = 3\npercent = 15\n'
        '[[offers.versions]]\neffective_from = 2026-03-01\ntype = "flat"\n'
        'amount_minor = 700\ncurrency = "eur"\n',
    )

    v1, v2 = offer.resolved_versions()

    assert [t.name for t in v1.terms.tiers] == ["top"]
    assert (v2.terms.type, v2.terms.percent, v2.terms.tiers) == ("flat", None, [])
    assert (v2.terms.amount_minor, v2.terms.currency) == (700, "eur")


def test_caps_with_their_currency_load(tmp_path: Path) -> None:
    offer = load_offer(
        tmp_path,
        'type = "percent"\npercent = 20\ncurrency = "usd"\n'
        "max_commission_minor = 5000\nmax_customer_commission_minor = 20000\n",
    )

    assert (offer.max_commission_minor, offer.max_customer_commission_minor, offer.currency) == (
        5000,
        20000,
        "usd",
    )


def test_the_demo_program_file_loads() -> None:
    program = load_program(DEMO_PROGRAM)

    assert {o.id for o in program.offers} >= {"pro-20", "lifetime-10", "ebook-flat"}


def _portal(tmp_path: Path, section: str) -> Path:
    path = tmp_path / "program.toml"
    path.write_text(HEAD + "\n[portal]\n" + section, encoding="utf-8")
    return path


def test_the_portal_section_brands_the_affiliates_portal(tmp_path: Path) -> None:
    program = load_program(
        _portal(
            tmp_path,
            'name = "Acme partners"\nlogo_url = "https://acme.example/logo.svg"\n'
            'primary_color = "#0A7D5A"\nsupport_email = "partners@acme.example"\n',
        )
    )
    assert program.portal.name == "Acme partners"
    assert program.portal.logo_url == "https://acme.example/logo.svg"
    assert program.portal.primary_color == "#0A7D5A"
    assert program.portal.support_email == "partners@acme.example"
    assert load_program(DEMO_PROGRAM).portal.name == "Affiliate portal"  # every key optional


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ('primary_color = "red"', "portal.primary_color"),
        ('primary_color = "#12345"', "portal.primary_color"),
        ('primary_color = "#123456; background: url(x)"', "portal.primary_color"),
        ('logo_url = "http://acme.example/logo.svg"', "logo_url must be an absolute https URL"),
        ('logo_url = "javascript:alert(1)"', "logo_url must be an absolute https URL"),
        ('logo_url = "/logo.svg"', "logo_url must be an absolute https URL"),
        ('support_email = "not an email"', "portal.support_email"),
        ('colour = "#123456"', "portal.colour"),
    ],
)
def test_a_bad_portal_section_is_refused_naming_the_key(tmp_path: Path, section: str, problem: str) -> None:
    with pytest.raises(ProgramError, match=problem):
        load_program(_portal(tmp_path, section))


# payout details --------------------------------------------------------------------------------


def affiliate_file(tmp_path: Path, keys: str) -> Path:
    path = tmp_path / "program.toml"
    path.write_text(f'[[affiliates]]\nid = "jane"\nname = "Jane"\n{keys}', encoding="utf-8")
    return path


def test_payout_emails_are_optional_and_kept_as_written(tmp_path: Path) -> None:
    keys = 'paypal_email = "jane.pay@example.com"\nwise_email = "jane@wise.example.org"\n'

    (jane,) = load_program(affiliate_file(tmp_path, keys)).affiliates
    (bare,) = load_program(affiliate_file(tmp_path, "")).affiliates

    assert (jane.paypal_email, jane.wise_email) == ("jane.pay@example.com", "jane@wise.example.org")
    assert (bare.paypal_email, bare.wise_email) == (None, None)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("paypal_email", "Jane Doe", id="a-name"),
        pytest.param("paypal_email", "jane@example", id="no-dot-in-domain"),
        pytest.param("wise_email", "jane @example.com", id="a-space"),
        pytest.param("wise_email", "jane@@example.com", id="two-ats"),
        pytest.param("wise_email", "", id="empty"),
    ],
)
def test_a_payout_email_that_is_not_an_address_is_refused_naming_the_affiliate(
    tmp_path: Path, key: str, value: str
) -> None:
    path = affiliate_file(tmp_path, f'{key} = "{value}"\n')

    with pytest.raises(ProgramError) as refused:
        load_program(path)

    assert f"affiliates[0] (id 'jane').{key}: {value!r} is not an email address" in str(refused.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("paypal_email", "+SUM(1)@evil.example", id="paypal-plus"),
        pytest.param("paypal_email", "=1+2@evil.example", id="paypal-equals"),
        pytest.param("wise_email", "-2+3@evil.example", id="wise-minus"),
    ],
)
def test_a_payout_email_a_spreadsheet_would_run_as_a_formula_is_refused(
    tmp_path: Path, key: str, value: str
) -> None:
    path = tmp_path / "program.toml"
    path.write_text(f"[[affiliates]]\nid = 'jane'\nname = 'Jane'\n{key} = '{value}'\n", encoding="utf-8")

    with pytest.raises(ProgramError) as refused:
        load_program(path)

    assert f"affiliates[0] (id 'jane').{key}: " in str(refused.value)
    assert "would run it as a formula" in str(refused.value)


def test_a_name_a_wise_payout_would_send_starting_like_a_formula_is_refused(tmp_path: Path) -> None:
    # Review: the Wise file sent "'@omar.builds" as the recipient's name.
    path = tmp_path / "program.toml"
    path.write_text("[[affiliates]]\nid = 'omar'\nname = '@omar.builds'\nwise_email = 'omar@example.com'\n")

    with pytest.raises(ProgramError, match=r"affiliates\[0\] \(id 'omar'\).*the Wise payout file sends it"):
        load_program(path)


def test_a_name_or_contact_email_starting_like_a_formula_loads_as_written(tmp_path: Path) -> None:
    # Review: an influencer's "@handle" as a name is ordinary; exports write such text safely.
    path = tmp_path / "program.toml"
    path.write_text("[[affiliates]]\nid = 'theo'\nname = '@theomarsh'\nemail = '+theo@example.com'\n")

    (theo,) = load_program(path).affiliates

    assert (theo.name, theo.email) == ("@theomarsh", "+theo@example.com")


def test_the_readme_program_example_loads_and_each_offer_pays_what_its_name_says(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    # the whole-program example is the README's one block with offers; the others are fragments of it
    [example] = [
        block for block in re.findall(r"```toml\n(.*?)```", readme, re.DOTALL) if "[[offers]]" in block
    ]
    (tmp_path / "program.toml").write_text(example, encoding="utf-8")

    program = load_program(tmp_path / "program.toml")

    for offer in program.offers:
        if stated := re.search(r"(\d+(?:\.\d+)?)%", offer.name):
            assert offer.percent == Decimal(stated[1]), (
                f"{offer.id}: named {offer.name!r}, pays {offer.percent}%"
            )


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        pytest.param(
            '[[codes]]\ncode = "FOREVER"\naffiliate = "jane"\noffer = "x"\nvalid_until = 9999-12-31\n',
            "codes[0] (code 'FOREVER').valid_until: 9999-12-31 is not a year between 1970 and 9000",
            id="a-forever-date-crashed-every-command",
        ),
        pytest.param(
            '[[codes]]\ncode = "C"\naffiliate = "jane"\noffer = "x"\nvalid_until = 20261231\n',
            "codes[0] (code 'C').valid_until: must be a date (2026-11-15) or a date and time",
            id="a-date-as-a-number-was-a-unix-time",
        ),
        pytest.param(
            '[[codes]]\ncode = "C"\naffiliate = "jane"\noffer = "x"\nvalid_until = "20261231"\n',
            "codes[0] (code 'C').valid_until: must be a date (2026-11-15) or a date and time",
            id="a-date-as-quoted-digits-was-a-unix-time",
        ),
        pytest.param(
            '[[codes]]\ncode = "THEO20 "\naffiliate = "jane"\noffer = "x"\n',
            "codes[0] (code 'THEO20 ').code: 'THEO20 ' has a space in it",
            id="a-code-with-a-pasted-space-never-matched",
        ),
    ],
)
def test_a_code_entry_that_would_misfire_is_refused(tmp_path: Path, entry: str, problem: str) -> None:
    path = program_file(tmp_path, 'type = "percent"\npercent = 20\n')
    path.write_text(path.read_text(encoding="utf-8") + entry, encoding="utf-8")

    with pytest.raises(ProgramError) as refused:
        load_program(path)

    assert f"{path}: {problem}" in str(refused.value)


@pytest.mark.parametrize(
    "destination",
    [
        "https://:80/",
        "https://your app.example/",
        "https://yourapp.example:99999/",
        "https://yourapp.example/\r\nSet-Cookie: x=1",
        "https://user:pass@yourapp.example/",
    ],
)
def test_a_destination_no_browser_can_use_as_written_is_refused(tmp_path: Path, destination: str) -> None:
    path = program_file(tmp_path, 'type = "percent"\npercent = 20\n')
    text = path.read_text(encoding="utf-8").replace('"https://shop.example/"', json.dumps(destination))
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ProgramError, match="destination must be an absolute http"):
        load_program(path)


def test_a_file_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = program_file(tmp_path, 'type = "percent"\npercent = 20\n')
    path.write_text("\ufeff" + path.read_text(encoding="utf-8"), encoding="utf-8")

    assert load_program(path).offer("x").percent == 20


def test_a_flat_offer_turned_percent_by_a_version_leaves_its_amount_behind(tmp_path: Path) -> None:
    # Review: the version inherited amount_minor, and a percent offer with an amount is refused: the
    # file no longer loaded, and TOML cannot clear a key.
    offer = load_offer(
        tmp_path,
        'type = "flat"\namount_minor = 500\ncurrency = "usd"\n'
        '[[offers.versions]]\neffective_from = 2026-06-01\ntype = "percent"\npercent = 10\n',
    )

    terms = [(v.terms.type, v.terms.percent, v.terms.amount_minor) for v in offer.resolved_versions()]
    assert terms == [("flat", None, 500), ("percent", 10, None)]
