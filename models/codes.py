"""Promotion codes: which code a payment used, and which affiliate (and offer) a code belongs to.

A payment names a promotion code (`promo_...`) on its Checkout Session (`discounts[].promotion_code`)
or, before API 2025-03-31, on its invoice (`discount.promotion_code`); from 2025-03-31 an invoice
names discount ids (`di_...`) instead, which `customer.discount.*` events resolve to their promotion
code. `promotion_code.*` events give each code its customer-facing text and metadata.

A code belongs to an affiliate when the program file's `[[codes]]` maps its `promotion_code` id, or
its text (case-insensitive), to one; else when the code's own Stripe metadata says `rd_affiliate`
(with `rd_offer`, or else the offer of the affiliate's first tracking link). A mapping may be limited
to `valid_from` .. `valid_until`; a purchase outside it is unattributed (`code_outside_validity`).
A subscription started with a code keeps it: renewals belong to the code's affiliate too; a code first
applied at a renewal does not claim the subscription. An affiliate named only by a code's metadata must
be in the program file (`unknown_affiliate` otherwise).
"""

from __future__ import annotations

import polars as pl

from models.exprs import text
from models.objects import Objects, objects_where


def _latest(objects: Objects, kind: str) -> pl.DataFrame:
    return (
        objects_where(objects, pl.col("object_kind") == kind)
        .sort("created_at", "event_id")
        .group_by("obj_id")
        .agg(pl.all().last())
    )


def promotion_codes(objects: Objects) -> pl.DataFrame:
    """Per promotion code id: its text and the affiliate/offer its Stripe metadata names."""
    return _latest(objects, "promotion_code").select(
        promotion_code_id="obj_id",
        code="code",
        metadata_affiliate_id="metadata_affiliate",
        metadata_offer_id="metadata_offer",
    )


def discount_codes(objects: Objects) -> pl.DataFrame:
    """Per discount id (`di_...`): the promotion code it applied."""
    return (
        _latest(objects, "discount")
        .filter(pl.col("promotion_code").is_not_null())
        .select(discount_id="obj_id", resolved_promotion_code_id="promotion_code")
    )


def with_promotion_codes(payments: pl.DataFrame, objects: Objects) -> pl.DataFrame:
    """Payments with `promotion_code_id` (a discount id resolved through its discount) and the code."""
    return (
        payments.join(discount_codes(objects), on="discount_id", how="left")
        .with_columns(promotion_code_id=pl.coalesce("promotion_code_id", "resolved_promotion_code_id"))
        .join(
            promotion_codes(objects).select("promotion_code_id", promotion_code="code"),
            on="promotion_code_id",
            how="left",
        )
        .drop("resolved_promotion_code_id")
    )


_TIME = pl.Datetime("us", "UTC")
_MAPPED = {"affiliate": "affiliate_id", "offer": "offer_id", "from": "valid_from", "until": "valid_until"}


def code_owners(
    chains: pl.DataFrame,
    codes: pl.DataFrame,
    links: pl.DataFrame,
    objects: Objects,
    affiliates: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per chain that used a promotion code: the code's affiliate and offer, and `code_reason` when the
    mapping does not cover the purchase (null when the code belongs to nobody: most codes are not
    affiliate codes). A code whose Stripe metadata names an affiliate the program file (`affiliates`)
    does not list is `unknown_affiliate`: Stripe's dashboard cannot make a payee."""
    used = (
        chains.filter(pl.col("chain_promotion_code_id").is_not_null())
        .join(
            promotion_codes(objects).rename({"promotion_code_id": "chain_promotion_code_id"}),
            on="chain_promotion_code_id",
            how="left",
        )
        .with_columns(code_key=pl.col("code").str.to_uppercase())
    )
    # the mapping in force when the chain started (core/state/offer_terms.py records each one)
    if "recorded_from" not in codes.columns:
        codes = codes.with_columns(recorded_from=pl.lit(None, _TIME), recorded_until=pl.lit(None, _TIME))
    started = pl.col("chain_started_at")
    in_force = (pl.col("recorded_from").is_null() | (pl.col("recorded_from") <= started)) & (
        pl.col("recorded_until").is_null() | (started < pl.col("recorded_until"))
    )

    def matched(key: str, column: pl.Expr, prefix: str) -> pl.DataFrame:
        mapping = codes.filter(column.is_not_null()).select(
            column.alias(key),
            "recorded_from",
            "recorded_until",
            **{f"{prefix}_{name}": pl.col(source) for name, source in _MAPPED.items()},
        )
        return (
            used.select("chain_id", key, "chain_started_at")
            .join(mapping, on=key)
            .filter(in_force)
            .unique("chain_id", keep="first", maintain_order=True)
            .drop(key, "chain_started_at", "recorded_from", "recorded_until")
        )

    by_id = matched("chain_promotion_code_id", pl.col("promotion_code_id"), "id")
    by_text = matched("code_key", pl.col("code").str.to_uppercase(), "text")
    first_link_offer = links.group_by("affiliate_id", maintain_order=True).agg(pl.col("offer_id").first())
    mapped = (
        used.join(by_id, on="chain_id", how="left")
        .join(by_text, on="chain_id", how="left")
        .join(
            first_link_offer.rename({"affiliate_id": "metadata_affiliate_id", "offer_id": "link_offer"}),
            on="metadata_affiliate_id",
            how="left",
        )  # fmt: skip
        .with_columns(
            code_affiliate_id=pl.coalesce("id_affiliate", "text_affiliate", "metadata_affiliate_id"),
            code_offer_id=pl.coalesce("id_offer", "text_offer", "metadata_offer_id", "link_offer"),
            valid_from=pl.coalesce("id_from", "text_from"),
            valid_until=pl.coalesce("id_until", "text_until"),
        )
        .filter(pl.col("code_affiliate_id").is_not_null())
    )
    outside = (pl.col("valid_from").is_not_null() & (pl.col("chain_started_at") < pl.col("valid_from"))) | (
        pl.col("valid_until").is_not_null() & (pl.col("chain_started_at") >= pl.col("valid_until"))
    )
    unknown = (
        ~pl.col("code_affiliate_id").is_in(affiliates["affiliate_id"].implode())
        if affiliates is not None
        else pl.lit(False)
    )
    shown = pl.coalesce("code", "chain_promotion_code_id")
    return mapped.select(
        "chain_id",
        "code_affiliate_id",
        "code_offer_id",
        code_reason=pl.when(unknown)
        .then(pl.lit("unknown_affiliate"))
        .when(outside)
        .then(pl.lit("code_outside_validity")),
        code_detail=pl.when(unknown)
        .then(
            text(
                "code ",
                shown,
                " names affiliate '",
                pl.col("code_affiliate_id"),
                "' in its Stripe metadata (rd_affiliate), who is not in the program file",
            )  # fmt: skip
        )
        .when(outside)
        .then(text("code ", shown, " belongs to ", pl.col("code_affiliate_id"), " ", _validity())),
    )


def _validity() -> pl.Expr:
    """A mapping's dates as the program file says them: `valid_until` is an exclusive instant, shown
    as the last day it covers when it is a midnight (the file's date), else as the instant."""
    until = pl.col("valid_until")
    at_midnight = until == until.dt.truncate("1d")
    end = (
        pl.when(until.is_null())
        .then(pl.lit("with no end"))
        .when(at_midnight)
        .then(text("through ", (until - pl.duration(days=1)).dt.strftime("%Y-%m-%d")))
        .otherwise(text("until ", until.dt.strftime("%Y-%m-%d %H:%M UTC")))
    )
    start = pl.col("valid_from").dt.strftime("%Y-%m-%d").fill_null("the start")
    return text("from ", start, " ", end)
