"""Leads: customers created with a click id at sign-up (a trial, a free plan), whose payments come later.

A `customer.created`/`customer.updated` or `customer.subscription.created` event whose object carries
`metadata.rd_click_id` makes the customer a lead of that click; the customer's earliest such event
counts. The lead is usable when the click exists, is not a bot, and the customer was created within
the click's offer's attribution window after it (`reason` says why not). The customer's later
payments with no click id of their own are attributed through the lead when the first of them comes
within `lead_window_days` (program setting, default 90) of the lead (models/attribution.py).
"""

from __future__ import annotations

import polars as pl

from core.contracts import LEAD, conform
from models.clicks import is_click_id_expr
from models.objects import Objects, objects_where


def build_leads(objects: Objects, clicks: pl.DataFrame, offers: pl.DataFrame) -> pl.DataFrame:
    """marts.leads: one row per customer created (or subscribed) with a click id."""
    signed_up = objects_where(
        objects,
        pl.col("object_kind").is_in(["customer", "subscription"]) & pl.col("metadata_click_id").is_not_null(),
    ).select(
        customer_id=pl.when(pl.col("object_kind") == "customer").then("obj_id").otherwise("customer"),
        click_id=pl.col("metadata_click_id").str.strip_chars(),
        created_at=pl.coalesce("created", "created_at"),
        event_at="created_at",  # when the event said it: every customer.* event has the same `created`
        livemode="livemode",
        source_event_id="event_id",
    )
    first = (
        signed_up.filter(pl.col("customer_id").is_not_null())
        .sort("event_at", "source_event_id")
        .unique("customer_id", keep="first", maintain_order=True)
    )
    windows = offers.select("offer_id", "attribution_window_days").unique("offer_id")
    judged = first.join(
        clicks.select("click_id", "clicked_at", "is_bot", "affiliate_id", "offer_id", "link_code"),
        on="click_id",
        how="left",
    ).join(windows, on="offer_id", how="left")
    reason = (
        pl.when(~is_click_id_expr(pl.col("click_id")) | pl.col("clicked_at").is_null())
        .then(pl.lit("unknown_click"))
        .when(pl.col("is_bot"))
        .then(pl.lit("bot_click"))
        .when(pl.col("clicked_at") > pl.col("created_at"))
        .then(pl.lit("click_after_lead"))
        .when(
            pl.col("created_at") - pl.col("clicked_at") > pl.duration(days=pl.col("attribution_window_days"))
        )
        .then(pl.lit("click_expired"))
    )
    return conform(judged.with_columns(reason=reason), LEAD).sort("created_at", "customer_id")
