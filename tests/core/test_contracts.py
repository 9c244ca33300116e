"""The data contract: one list of consumed event types (the README's), derived forms, conform."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

from core.contracts import (
    CONSUMED_EVENT_TYPES,
    LANDED_CLICK,
    MARTS,
    RAW_CLICK,
    arrow_schema,
    conform,
)
from core.program import Link
from receiver.click_record import click_record
from tests.support.paths import REPO


def test_the_readme_subscribe_list_is_the_consumed_event_types() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start, end = readme.index("2. In the Stripe dashboard"), readme.index("Every verified event is kept")
    section = readme[start:end]
    listed = re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", section)
    assert listed == list(CONSUMED_EVENT_TYPES)


def test_arrow_forms_are_derived_from_the_polars_contract() -> None:
    schema = arrow_schema(RAW_CLICK)
    assert schema.names == list(RAW_CLICK)
    assert schema.field("clicked_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("is_bot").type == pa.bool_()


def test_conform_orders_casts_and_fills_missing_columns() -> None:
    frame = pl.DataFrame({"is_bot": [True], "click_id": ["c1"], "extra": [1]})
    conformed = conform(frame, MARTS["clicks"])
    assert conformed.columns == list(MARTS["clicks"])
    assert conformed.row(0, named=True)["click_id"] == "c1"
    assert conformed.row(0, named=True)["link_code"] is None
    assert conformed.schema["clicked_at"] == pl.Datetime("us", "UTC")


def test_the_receiver_lands_exactly_the_contract_click_fields() -> None:
    link = Link(code="jane-pro", affiliate="jane", offer="pro-20", destination="https://shop.example/")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    record = click_record(
        click_id="c1", clicked_at=now, source="redirect", link=link, ip_hash=None, user_agent="Mozilla/5.0",
        referer=None, landing_url=None, utm={}, received_at=now,
    )  # fmt: skip
    assert list(record) == list(LANDED_CLICK)
