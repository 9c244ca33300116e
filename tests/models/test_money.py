"""Money: minor units per currency, display by the currency's exponent, half-up rounding once."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from models.money import (
    RATE_SCALE,
    apply_rate_half_up,
    exponent,
    exponent_expr,
    format_minor,
    minor_to_decimal_expr,
    percent_to_rate,
    rate_half_up_expr,
)


@pytest.mark.parametrize(("currency", "decimals"), [("jpy", 0), ("usd", 2), ("eur", 2), ("kwd", 3)])
def test_exponent_is_the_number_of_decimals_of_the_major_unit(currency: str, decimals: int) -> None:
    assert exponent(currency) == decimals


def test_exponent_ignores_the_case_of_the_currency_code() -> None:
    assert exponent("JPY") == 0
    assert exponent("KWD") == 3


@pytest.mark.parametrize(
    ("amount_minor", "currency", "shown"),
    [
        (1980, "usd", "19.80"),
        (500, "jpy", "500"),
        (1234, "kwd", "1.234"),
        (5, "usd", "0.05"),
        (0, "usd", "0.00"),
    ],
)
def test_format_minor_shows_the_currencys_decimals(amount_minor: int, currency: str, shown: str) -> None:
    assert format_minor(amount_minor, currency) == shown


def test_format_minor_keeps_the_sign_of_a_reversal() -> None:
    assert format_minor(-1980, "usd") == "-19.80"


def test_percent_to_rate_is_exact_in_millionths() -> None:
    assert percent_to_rate(20) == 200_000
    assert percent_to_rate("12.5") == 125_000
    assert percent_to_rate(Decimal("0.0001")) == 1
    assert percent_to_rate(100) == RATE_SCALE


def test_percent_to_rate_refuses_more_precision_than_it_can_keep() -> None:
    with pytest.raises(ValueError, match="more than 4 decimals"):
        percent_to_rate("12.34567")


@pytest.mark.parametrize(
    ("amount_minor", "percent", "expected"),
    [
        (4, "12.5", 1),  # 0.5 rounds up
        (3, "12.5", 0),  # 0.375 rounds down
        (9999, "20", 2000),  # 1999.8
        (9900, "20", 1980),  # exact
        (1, "50", 1),  # 0.5 rounds up
    ],
)
def test_apply_rate_rounds_half_up_at_the_minor_unit(amount_minor: int, percent: str, expected: int) -> None:
    assert apply_rate_half_up(amount_minor, percent_to_rate(percent)) == expected


def test_apply_rate_rounds_a_negative_half_away_from_zero() -> None:
    assert apply_rate_half_up(-4, percent_to_rate("12.5")) == -1


def test_rate_half_up_expr_agrees_with_the_scalar_rule_on_a_column() -> None:
    amounts = [4, 3, 9999, 9900, 1, 0, 123_456_789_012]
    rate = percent_to_rate("12.5")
    frame = pl.DataFrame({"amount_minor": amounts, "rate": [rate] * len(amounts)})

    got = frame.select(rate_half_up_expr(pl.col("amount_minor"), pl.col("rate"))).to_series().to_list()

    assert got == [apply_rate_half_up(a, rate) for a in amounts]


def test_rate_half_up_expr_does_not_overflow_on_large_amounts() -> None:
    frame = pl.DataFrame({"amount_minor": [9_000_000_000_000_000, 1], "rate": [RATE_SCALE, RATE_SCALE]})

    got = frame.select(rate_half_up_expr(pl.col("amount_minor"), pl.col("rate"))).to_series().to_list()

    assert got == [9_000_000_000_000_000, 1]


def test_rate_half_up_expr_rounds_a_negative_half_away_from_zero() -> None:
    frame = pl.DataFrame({"amount_minor": [-4, 4], "rate": [percent_to_rate("12.5")] * 2})

    got = frame.select(rate_half_up_expr(pl.col("amount_minor"), pl.col("rate"))).to_series().to_list()

    assert got == [-1, 1]


def test_rate_half_up_expr_works_on_a_single_row() -> None:
    # polars 2.1 cannot negate Int128; a one-row frame evaluates the negative branch anyway.
    frame = pl.DataFrame({"amount_minor": [9900], "rate": [percent_to_rate(20)]})

    got = frame.select(rate_half_up_expr(pl.col("amount_minor"), pl.col("rate"))).to_series().to_list()

    assert got == [1980]


def test_minor_to_decimal_is_exact_at_one_scale_for_every_currency() -> None:
    frame = pl.DataFrame(
        {
            "amount_minor": [1980, -1980, 500, 1235, 5, None],
            "currency": ["usd", "usd", "jpy", "KWD", "eur", "usd"],
        }
    )

    shown = frame.select(
        amount=minor_to_decimal_expr(pl.col("amount_minor"), pl.col("currency")),
        exponent=exponent_expr(pl.col("currency")),
    )

    assert shown.schema["amount"] == pl.Decimal(38, 3)
    assert shown["amount"].to_list() == [
        Decimal("19.800"),
        Decimal("-19.800"),
        Decimal("500.000"),
        Decimal("1.235"),
        Decimal("0.050"),
        None,
    ]
    assert shown["exponent"].to_list() == [2, 2, 0, 3, 2, 2]
