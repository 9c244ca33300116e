"""Comparing marts: the money two histories make, table by table."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import polars as pl
from polars.testing import assert_frame_equal

PAYMENT = [
    "amount_minor",
    "currency",
    "customer_id",
    "subscription_id",
    "billing_reason",
    "click_id",
    "livemode",
]
CONVERSION = [
    "payment_id",
    "affiliate_id",
    "conversion_type",
    "payment_number",
    "commission_minor",
    "commissionable",
]
MONEY = {  # mart → its key and the columns that say how much money moved, when and to whom
    "payments": ("payment_id", PAYMENT),
    "payment_adjustments": (
        "adjustment_id",
        ["payment_id", "occurred_at", "kind", "amount_minor", "currency"],
    ),
    "conversions": ("conversion_id", CONVERSION),
    "unattributed_payments": ("payment_id", ["reason", "amount_minor"]),
    "commission_lines": ("line_id", ["kind", "amount_minor", "payable_on", "period", "status"]),
    "affiliate_statements": ("period", ["affiliate_id", "currency", "net_minor", "payable_minor"]),
}


def assert_same_money(
    got: Mapping[str, pl.DataFrame], want: Mapping[str, pl.DataFrame], payment_time_slack: timedelta
) -> None:
    """The same payments, adjustments, conversions, lines and statements (marts by table name); each
    payment's time within `payment_time_slack` of the other's."""
    for table, (key, columns) in MONEY.items():
        left, right = (marts[table].select(key, *columns).sort(key, *columns) for marts in (got, want))
        assert_frame_equal(left, right, check_row_order=False)
    times = got["payments"].join(want["payments"], on="payment_id", suffix="_wanted")
    gap = times.select((pl.col("occurred_at") - pl.col("occurred_at_wanted")).abs().max()).item()
    assert times.height == want["payments"].height and gap <= payment_time_slack
