"""Money: integer minor units per currency, display with the currency's exponent, half-up rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import polars as pl

ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

# Rates are stored as integer millionths of a percent-point fraction: 20% -> 200_000 (of 1_000_000).
RATE_SCALE = 1_000_000


def exponent(currency: str) -> int:
    """Number of decimals of a currency's major unit (jpy 0, usd 2, kwd 3)."""
    currency = currency.lower()
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def format_minor(amount_minor: int, currency: str) -> str:
    """Display string for an amount in minor units: (1980, 'usd') -> '19.80'; (500, 'jpy') -> '500'."""
    exp = exponent(currency)
    value = Decimal(amount_minor).scaleb(-exp)
    return f"{value:.{exp}f}"


def percent_to_rate(percent: Decimal | float | int | str) -> int:
    """A decimal percent (e.g. 12.5) as an integer rate in millionths: 125_000."""
    rate = Decimal(str(percent)) * RATE_SCALE / 100
    if rate != rate.to_integral_value():
        raise ValueError(f"percent {percent} has more than 4 decimals")
    return int(rate)


def apply_rate_half_up(amount_minor: int, rate: int) -> int:
    """amount × rate / RATE_SCALE, rounded half up (away from zero) at the minor unit, once."""
    value = Decimal(amount_minor) * rate / RATE_SCALE
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rate_half_up_expr(amount: pl.Expr, rate: pl.Expr) -> pl.Expr:
    """Column version of apply_rate_half_up, exact in integers (Int128 to avoid overflow)."""
    product = amount.cast(pl.Int128) * rate.cast(pl.Int128)
    magnitude = (product.abs() + RATE_SCALE // 2) // RATE_SCALE
    return (pl.when(product < 0).then(pl.lit(0, pl.Int128) - magnitude).otherwise(magnitude)).cast(pl.Int64)


def format_minor_expr(amount: pl.Expr, currency: pl.Expr) -> pl.Expr:
    """Column version of format_minor."""
    return pl.struct(a=amount, c=currency).map_elements(
        lambda s: None if s["a"] is None else format_minor(s["a"], s["c"]), return_dtype=pl.String
    )


# The most decimals any currency has (kwd, bhd, …): one decimal scale holds every currency exactly.
MAX_EXPONENT = 3


def exponent_expr(currency: pl.Expr) -> pl.Expr:
    """Column version of exponent."""
    table = {c: 0 for c in ZERO_DECIMAL} | {c: 3 for c in THREE_DECIMAL}
    return currency.str.to_lowercase().replace_strict(table, default=2, return_dtype=pl.Int8)


def minor_to_decimal_expr(amount: pl.Expr, currency: pl.Expr) -> pl.Expr:
    """Minor units as an exact Decimal(38, 3) in major units: (1980, usd) → 19.800, (500, jpy) →
    500.000. One scale for every currency, since a column has one scale; dividing by 10**exponent
    (at most 1000) is exact at scale 3."""
    divisor = pl.lit(10, pl.Int64).pow(exponent_expr(currency).cast(pl.Int64)).cast(pl.Decimal(38, 0))
    return amount.cast(pl.Decimal(38, MAX_EXPONENT)) / divisor
