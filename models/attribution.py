"""Attribution: which click (and so which affiliate and offer) each payment belongs to.

Rules (DESIGN §4): a payment's own click id (metadata, client_reference_id, subscription metadata)
first; a subscription's payments share the attribution of its first payment that names a click;
a payment chain with no click id inherits the customer's earlier attribution. The click must
exist, not be a bot, and lie inside the offer's attribution window before the chain started
(its checkout, or its first payment). Everything that no affiliate gets is kept, with its reason.
"""

from __future__ import annotations

import polars as pl

from core.contracts import ATTRIBUTED_PAYMENT, UNATTRIBUTED_PAYMENT, conform
from models.clicks import is_click_id_expr
from models.exprs import text


def _chains(payments: pl.DataFrame) -> pl.DataFrame:
    """Add chain_id (the subscription, else the payment itself), chain start and order."""
    return (
        payments.sort("occurred_at", "payment_id")
        .with_columns(
            chain_id=pl.coalesce("subscription_id", "payment_id"),
        )
        .with_columns(
            chain_first_at=pl.col("occurred_at").min().over("chain_id"),
            # a trial's checkout comes before its first payment: the visitor converted at checkout
            chain_started_at=pl.min_horizontal(
                pl.col("occurred_at").min().over("chain_id"),
                pl.col("checkout_completed_at").min().over("chain_id"),
            ),
        )
    )


def chain_clicks(payments: pl.DataFrame) -> pl.DataFrame:
    """Per chain: the first click id named by any of its payments, and where it came from."""
    chains = _chains(payments)
    named = chains.filter(pl.col("click_id").is_not_null())
    first = named.group_by("chain_id").agg(
        pl.col("click_id").first().alias("chain_click_id"),
        pl.col("click_id_source").first().alias("chain_click_source"),
        pl.col("payment_id").first().alias("chain_click_payment_id"),
    )
    return (
        chains.group_by("chain_id")
        .agg(
            pl.col("chain_first_at").first(),
            pl.col("chain_started_at").first(),
            pl.col("customer_id").drop_nulls().first(),
            pl.col("livemode").first(),
        )
        .join(first, on="chain_id", how="left")
    )


def validate_chain_clicks(chains: pl.DataFrame, clicks: pl.DataFrame, offers: pl.DataFrame) -> pl.DataFrame:
    """Judge each chain's click: attributed, or the reason it is not."""
    click_cols = clicks.select(
        pl.col("click_id").alias("chain_click_id"),
        "clicked_at",
        "is_bot",
        "affiliate_id",
        "offer_id",
        "link_code",
    )
    windows = offers.select("offer_id", "attribution_window_days").unique("offer_id")
    judged = chains.join(click_cols, on="chain_click_id", how="left").join(windows, on="offer_id", how="left")
    window = pl.duration(days=pl.col("attribution_window_days"))
    reason = (
        pl.when(pl.col("chain_click_id").is_null())
        .then(pl.lit("no_click_id"))
        .when(~is_click_id_expr(pl.col("chain_click_id")) | pl.col("clicked_at").is_null())
        .then(pl.lit("unknown_click"))
        .when(pl.col("is_bot"))
        .then(pl.lit("bot_click"))
        .when(pl.col("attribution_window_days").is_null())
        .then(pl.lit("unknown_offer"))
        .when(pl.col("clicked_at") > pl.col("chain_started_at"))
        .then(pl.lit("click_after_payment"))
        .when(pl.col("chain_started_at") - pl.col("clicked_at") > window)
        .then(pl.lit("click_expired"))
    )
    detail = (
        pl.when(reason == "click_expired")
        .then(
            text(
                "clicked ",
                (pl.col("chain_started_at") - pl.col("clicked_at")).dt.total_days(),
                " days before the purchase; window ",
                pl.col("attribution_window_days"),
                " days",
            )
        )
        .when(reason == "unknown_click")
        .then(text("click id ", pl.col("chain_click_id"), " was not issued by this program"))
    )
    return judged.with_columns(reason=reason, detail=detail)


def _customer_inheritance(judged: pl.DataFrame) -> pl.DataFrame:
    """Chains without a click id inherit the earliest earlier attributed chain of the same customer."""
    origins = judged.filter(pl.col("reason").is_null()).select(
        "customer_id",
        "livemode",
        pl.col("chain_id").alias("origin_chain_id"),
        pl.col("chain_first_at").alias("origin_first_at"),
    )
    orphans = judged.filter((pl.col("reason") == "no_click_id") & pl.col("customer_id").is_not_null()).select(
        "chain_id", "customer_id", "livemode", "chain_first_at"
    )
    return (
        orphans.join(origins, on=["customer_id", "livemode"])
        .filter(pl.col("origin_first_at") < pl.col("chain_first_at"))
        .sort("origin_first_at", "origin_chain_id")
        .group_by("chain_id")
        .agg(pl.col("origin_chain_id").first())
    )


def attribute(
    payments: pl.DataFrame, clicks: pl.DataFrame, offers: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split payments into conversions (attributed) and unattributed payments (with a reason)."""
    if payments.is_empty():
        return pl.DataFrame(schema=ATTRIBUTED_PAYMENT), pl.DataFrame(schema=UNATTRIBUTED_PAYMENT)
    judged = validate_chain_clicks(chain_clicks(payments), clicks, offers)
    inherited = _customer_inheritance(judged)
    direct = judged.filter(pl.col("reason").is_null()).select(
        "chain_id", origin_chain_id=pl.col("chain_id"), inherited_from_customer=pl.lit(False)
    )
    by_customer = inherited.with_columns(inherited_from_customer=pl.lit(True))
    origin_of = pl.concat([direct, by_customer])
    origin_terms = judged.filter(pl.col("reason").is_null()).select(
        pl.col("chain_id").alias("origin_chain_id"),
        "chain_click_id",
        "chain_click_payment_id",
        "affiliate_id",
        "offer_id",
        "link_code",
        pl.col("chain_first_at").alias("attributed_from_at"),
        "clicked_at",
    )
    chained = _chains(payments)
    attributed = (
        chained.join(origin_of, on="chain_id")
        .join(origin_terms, on="origin_chain_id")
        .sort("occurred_at", "payment_id")
        .with_columns(
            payment_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("origin_chain_id"),
        )
    )
    own_click = pl.col("click_id") == pl.col("chain_click_id")
    conversions = attributed.with_columns(
        conversion_id=text("cv_", pl.col("payment_id")),
        attribution_id=pl.col("origin_chain_id"),
        click_id_source=pl.when(pl.col("inherited_from_customer"))
        .then(pl.lit("customer"))
        .when(own_click.fill_null(False) & pl.col("click_id_source").is_not_null())
        .then(pl.col("click_id_source"))
        .otherwise(pl.lit("subscription")),
        click_id=pl.col("chain_click_id"),
        conversion_type=pl.when(pl.col("payment_number") == 1)
        .then(pl.lit("initial"))
        .when(pl.col("billing_reason") == "subscription_update")
        .then(pl.lit("change"))
        .otherwise(pl.lit("renewal")),
    ).pipe(conform, ATTRIBUTED_PAYMENT)

    unattributed = (
        chained.join(origin_of.select("chain_id"), on="chain_id", how="anti")
        .join(judged.select("chain_id", "reason", "detail", "chain_click_id"), on="chain_id")
        .with_columns(click_id=pl.coalesce("click_id", "chain_click_id"))
        .pipe(conform, UNATTRIBUTED_PAYMENT)
    )
    return conversions.sort("occurred_at", "payment_id"), unattributed.sort("occurred_at", "payment_id")
