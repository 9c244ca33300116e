"""Commissions: which conversions earn, how much (offer terms), and the ledger lines they create.

Percent offers earn `percent` of the amount paid less tax, flat offers a fixed amount in their
currency; rounding is half up at the minor unit, once, per line. Recurring terms decide which
payments of an attributed chain earn: `first_payment`, `lifetime`, or `fixed_period` of N months
from the first attributed payment (a payment on or after its N-month anniversary day earns nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from core.contracts import COMMISSION_LINE, CONVERSION, OFFER_TIER, conform
from models.exprs import text
from models.holding import payable_on, with_status
from models.money import RATE_SCALE, rate_half_up_expr

BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)  # an offer's first version starts then (no effective_from)


def _percent_text(percent: pl.Expr) -> pl.Expr:
    value = percent.cast(pl.String)
    return (
        pl.when(value.str.contains(r"\."))
        .then(value.str.strip_chars_end("0").str.strip_chars_end("."))
        .otherwise(value)
    )


def lock_terms(conversions: pl.DataFrame, offers: pl.DataFrame) -> pl.DataFrame:
    """Join each conversion to the offer version in force at its chain's first attributed payment.

    Terms are locked then: later versions apply to chains attributed after their effective_from.
    """
    versions = offers.with_columns(
        effective_key=pl.col("effective_from").fill_null(pl.lit(BEGINNING)).cast(pl.Datetime("us", "UTC"))
    ).sort("effective_key")
    terms = versions.select(
        "offer_id",
        "effective_key",
        offer_version=pl.col("version"),
        offer_effective_from=pl.col("effective_from"),
        offer_type=pl.col("type"),
        percent=pl.col("percent"),
        flat_amount_minor=pl.col("amount_minor"),
        offer_currency=pl.col("currency"),
        recurring=pl.col("recurring"),
        recurring_months=pl.col("recurring_months"),
        holding_days=pl.col("holding_days"),
        max_commission_minor=pl.col("max_commission_minor"),
        max_customer_commission_minor=pl.col("max_customer_commission_minor"),
    )
    return (
        conversions.with_row_index("_row")
        .sort("attributed_from_at")
        .join_asof(
            terms,
            left_on="attributed_from_at",
            right_on="effective_key",
            by="offer_id",
            strategy="backward",
            check_sortedness=False,
        )
        .sort("_row")
        .drop("_row", "effective_key")
    )


def month_initial_conversions(
    conversions: pl.DataFrame, not_counted: pl.Series | None = None
) -> pl.DataFrame:
    """Add the affiliate's live initial conversions in the payment's calendar month, up to and
    including the payment (what tiers count), leaving out the payments `not_counted` names (sales that
    earn nothing in the end: refunded in full, rejected in review)."""
    month = pl.col("occurred_at").dt.strftime("%Y-%m")
    counted = pl.lit(True) if not_counted is None else ~pl.col("payment_id").is_in(not_counted.implode())
    is_initial = ((pl.col("conversion_type") == "initial") & pl.col("livemode") & counted).cast(pl.Int64)
    return conversions.with_columns(
        month_initial_conversions=is_initial.cum_sum().over(
            ["affiliate_id", month], order_by=["occurred_at", "payment_id"]
        )
    )


def reached_tier(frame: pl.DataFrame, tiers: pl.DataFrame) -> pl.DataFrame:
    """Add tier / tier_percent: the highest tier of the locked version reached this month."""
    if tiers.is_empty():
        return frame.with_columns(tier=pl.lit(None, pl.String), tier_percent=pl.lit(None, pl.Decimal(9, 4)))
    indexed = frame.with_row_index("_row")
    reached = (
        indexed.select("_row", "offer_id", "offer_version", "month_initial_conversions")
        .join(
            tiers.select(
                "offer_id",
                offer_version=pl.col("version"),
                tier=pl.col("name"),
                min_conversions=pl.col("min_conversions"),
                tier_percent=pl.col("percent"),
            ),
            on=["offer_id", "offer_version"],
        )
        .filter(pl.col("month_initial_conversions") >= pl.col("min_conversions"))
        .sort("min_conversions", descending=True)
        .group_by("_row")
        .agg(pl.col("tier").first(), pl.col("tier_percent").first())
    )
    return indexed.join(reached, on="_row", how="left").sort("_row").drop("_row")


def _apply_caps(frame: pl.DataFrame) -> pl.DataFrame:
    """Per-conversion cap, then the per-customer cap over the attribution's life.

    With S_k the running total of (per-conversion capped) commissions of one attribution, payment k
    earns min(cap, S_k) - min(cap, S_k-1): the cap is filled in payment order, then nothing more.
    Caps are in the offer's currency; conversions in other currencies are not capped.
    """
    in_cap_currency = pl.col("currency") == pl.col("offer_currency")
    earning = pl.col("not_commissionable_reason").is_null()
    per_conversion = (
        pl.when(in_cap_currency & pl.col("max_commission_minor").is_not_null())
        .then(pl.min_horizontal("commission_minor", "max_commission_minor"))
        .otherwise(pl.col("commission_minor"))
    )
    frame = frame.with_columns(uncapped_minor=pl.col("commission_minor"), commission_minor=per_conversion)
    capped_customer = earning & in_cap_currency & pl.col("max_customer_commission_minor").is_not_null()
    running = pl.when(capped_customer).then(pl.col("commission_minor")).otherwise(0).cum_sum()
    cap = pl.col("max_customer_commission_minor")
    return (
        frame.with_columns(_total=running.over("attribution_id", order_by=["occurred_at", "payment_id"]))
        .with_columns(
            commission_minor=pl.when(capped_customer)
            .then(
                pl.min_horizontal(cap, pl.col("_total"))
                - pl.min_horizontal(cap, pl.col("_total") - pl.col("commission_minor"))
            )
            .otherwise(pl.col("commission_minor"))
        )
        .drop("_total")
    )


def evaluate_conversions(
    conversions: pl.DataFrame,
    offers: pl.DataFrame,
    tiers: pl.DataFrame | None = None,
    affiliates: pl.DataFrame | None = None,
    not_counted: pl.Series | None = None,
) -> pl.DataFrame:
    """Add the locked terms, the tier reached, commissionable / not_commissionable_reason, the
    commission and the readable rule. A banned affiliate's clicks from `banned_from` on earn nothing
    (`affiliate_banned`), and so do sales through their promotion codes made from then on; earlier
    ones keep earning as before. Tiers do not count the payments `not_counted` names."""
    tiers = tiers if tiers is not None else pl.DataFrame(schema=OFFER_TIER)
    bans = (
        affiliates.filter(pl.col("status") == "banned").select("affiliate_id", "banned_from")
        if affiliates is not None
        else pl.DataFrame(schema={"affiliate_id": pl.String, "banned_from": pl.Datetime("us", "UTC")})
    )
    frame = reached_tier(month_initial_conversions(lock_terms(conversions, offers), not_counted), tiers)
    frame = frame.join(bans, on="affiliate_id", how="left")
    is_percent = pl.col("offer_type") == "percent"
    occurred, anchor = pl.col("occurred_at"), pl.col("attributed_from_at")
    month_diff = (occurred.dt.year() - anchor.dt.year()) * 12 + occurred.dt.month() - anchor.dt.month()
    # Whole months since the first attributed payment (0 during the first month), counted in
    # calendar days (UTC): a renewal billed on the anniversary day is in the next month even when
    # it was paid a few seconds earlier in the day than the first payment.
    months_in = month_diff - (
        anchor.dt.offset_by(text(month_diff, "mo")).dt.date() > occurred.dt.date()
    ).cast(pl.Int64)
    # what the affiliate did: the click, or for a sale through a promotion code the purchase itself
    banned_by = pl.coalesce("clicked_at", "attributed_from_at")
    reason = (
        pl.when(pl.col("offer_type").is_null())
        .then(pl.lit("unknown_offer"))
        .when(~pl.col("livemode"))
        .then(pl.lit("test_mode"))
        .when(pl.col("banned_from").is_not_null() & (banned_by >= pl.col("banned_from")))
        .then(pl.lit("affiliate_banned"))
        .when((pl.col("recurring") == "first_payment") & (pl.col("payment_number") > 1))
        .then(pl.lit("outside_recurring_period"))
        .when((pl.col("recurring") == "fixed_period") & (months_in >= pl.col("recurring_months")))
        .then(pl.lit("outside_recurring_period"))
        .when(~is_percent & (pl.col("currency") != pl.col("offer_currency")))
        .then(pl.lit("currency_mismatch"))
    )
    base = (
        pl.when(is_percent)
        .then(pl.col("amount_minor") - pl.col("tax_minor"))
        .otherwise(pl.col("amount_minor"))
    )
    percent = pl.coalesce("tier_percent", "percent")
    rate = (percent * (RATE_SCALE // 100)).cast(pl.Int64)
    commission = (
        pl.when(is_percent).then(rate_half_up_expr(base, rate)).otherwise(pl.col("flat_amount_minor"))
    )
    which_payment = (
        pl.when(pl.col("recurring") == "fixed_period")
        .then(
            text(
                "payment ",
                pl.col("payment_number"),
                ", month ",
                months_in + 1,
                " of ",
                pl.col("recurring_months"),
            )
        )
        .when(pl.col("recurring") == "lifetime")
        .then(text("payment ", pl.col("payment_number"), " (lifetime)"))
        .when(pl.col("payment_number") == 1)
        .then(pl.lit("first payment"))
        .otherwise(text("payment ", pl.col("payment_number"), " (first payment only)"))
    )
    tax_note = (
        pl.when(is_percent & (pl.col("tax_minor") > 0))
        .then(text(" (excl. ", pl.col("tax_minor"), " tax)"))
        .otherwise(pl.lit(""))
    )
    tier_note = (
        pl.when(pl.col("tier").is_not_null())
        .then(
            text(
                " (tier '",
                pl.col("tier"),
                "', ",
                pl.col("month_initial_conversions"),
                " conversions this month)",
            )
        )
        .otherwise(pl.lit(""))
    )
    what = (
        pl.when(is_percent)
        .then(text(_percent_text(percent), "% of ", base, " ", pl.col("currency")))
        .otherwise(text("flat ", pl.col("flat_amount_minor"), " ", pl.col("offer_currency"), " per payment"))
    )
    version_note = (
        pl.when(pl.col("offer_version") > 1)
        .then(
            text(
                "; terms v",
                pl.col("offer_version"),
                " from ",
                pl.col("offer_effective_from").dt.strftime("%Y-%m-%d"),
            )
        )
        .otherwise(pl.lit(""))
    )
    evaluated = (
        frame.with_columns(not_commissionable_reason=reason)
        .with_columns(
            base_amount_minor=base,
            commission_minor=pl.when(pl.col("not_commissionable_reason").is_null())
            .then(commission)
            .otherwise(0),
        )
        .pipe(_apply_caps)
        .with_columns(
            cap_note=pl.when(pl.col("commission_minor") < pl.col("uncapped_minor"))
            .then(text(" (capped at ", pl.col("commission_minor"), ")"))
            .otherwise(pl.lit("")),
            not_commissionable_reason=pl.when(
                pl.col("not_commissionable_reason").is_null() & (pl.col("commission_minor") <= 0)
            )
            .then(
                pl.when(pl.col("uncapped_minor") > 0)
                .then(pl.lit("customer_cap_reached"))
                .otherwise(pl.lit("zero_commission"))
            )
            .otherwise(pl.col("not_commissionable_reason")),
        )
        .with_columns(
            commissionable=pl.col("not_commissionable_reason").is_null(),
            rule=pl.concat_str(
                [what, tier_note, tax_note, pl.lit(", "), which_payment, pl.col("cap_note"), version_note]
            ),
        )
    )
    return conform(evaluated, CONVERSION)


def commission_lines(evaluated: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """The ledger: one `commission` line per commissionable conversion, with its holding status.

    Reversal and reinstatement lines (refunds, disputes) are added by the adjustments rules.
    """
    lines = evaluated.filter(pl.col("commissionable")).with_columns(
        line_id=text(pl.col("conversion_id"), ":commission"),
        kind=pl.lit("commission"),
        amount_minor=pl.col("commission_minor"),
        earned_at=pl.col("occurred_at"),
        payable_on=payable_on(pl.col("occurred_at"), pl.col("holding_days")),
    )
    return (
        with_status(lines.with_columns(period=pl.col("earned_at").dt.strftime("%Y-%m")), now)
        .pipe(conform, COMMISSION_LINE)
        .sort("earned_at", "line_id")
    )
