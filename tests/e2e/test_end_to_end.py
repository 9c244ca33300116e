"""End to end: a real uvicorn receiver, signed webhooks and clicks over HTTP, the pipeline, the marts."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import duckdb
import httpx
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from core.click_ids import new_click_id
from core.settings import Settings
from pipelines.run import run_pipeline
from simulator.dates import add_months
from simulator.launcher import ReceiverProcess
from simulator.stripe import BASIL, LEGACY, StripeSim, signed_request
from tests.support.paths import DEMO_PROGRAM

pytestmark = pytest.mark.e2e

SECRET = "whsec_e2e_0123456789abcdef"
TOKEN = "e2e-token"
# the histories import clicks from 14 months back: a backfill horizon longer than the default 400 days
BACKFILL = {"ATTRO_MAX_CLICK_AGE_DAYS": "800"}
PROGRAM = DEMO_PROGRAM
MARTS = ("payments", "conversions", "unattributed_payments", "commission_lines", "affiliate_statements")
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def settings_for(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, program=PROGRAM)


def post_event(client: httpx.Client, event: dict) -> httpx.Response:
    body, headers = signed_request(event, SECRET)
    return client.post("/api/webhooks/stripe", content=body, headers=headers)


def marts(settings: Settings) -> dict[str, pl.DataFrame]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        frames = {name: con.sql(f"select * from marts.{name}").pl() for name in MARTS}
    finally:
        con.close()
    order = {
        "payments": ["payment_id"],
        "conversions": ["conversion_id"],
        "unattributed_payments": ["payment_id"],
        "commission_lines": ["line_id"],
        "affiliate_statements": ["period", "affiliate_id", "currency"],
    }
    return {name: frame.sort(order[name]) for name, frame in frames.items()}


def history(clicks: dict[str, tuple[str, datetime]]) -> list[dict]:
    """A small program history on the simulator: subscription over 14 months, one-time, no-click."""
    sim = StripeSim(seed=11, livemode=True)
    events: list[dict] = []
    jane_id, jane_at = clicks["jane"]
    start = jane_at + timedelta(days=2)
    flow = sim.subscription_checkout(start, 9900, click_id=jane_id, api_version=LEGACY)
    events += flow.events
    for month in range(1, 14):
        at = add_months(start, month)
        events += sim.renewal(
            flow.sub, at + timedelta(hours=1), api_version=LEGACY if month < 5 else BASIL
        ).events
    omar_id, omar_at = clicks["omar"]
    events += sim.one_time_checkout(omar_at + timedelta(hours=3), 12900, click_id=omar_id).events
    events += sim.one_time_checkout(omar_at + timedelta(days=5), 2500).events  # nobody referred
    return events


def import_clicks(client: httpx.Client, clicks: dict[str, tuple[str, datetime]]) -> None:
    records = [
        {"link_code": code, "click_id": cid, "clicked_at": at.isoformat().replace("+00:00", "Z")}
        for code, (cid, at) in (("jane-pro", clicks["jane"]), ("omar-all", clicks["omar"]))
    ]
    response = client.post("/api/clicks", json=records, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.json()["click_ids"] == [r["click_id"] for r in records]


@pytest.fixture
def fixed_clicks() -> dict[str, tuple[str, datetime]]:
    jane_at = datetime(2025, 6, 1, 9, tzinfo=UTC)
    omar_at = datetime(2026, 3, 3, 15, tzinfo=UTC)
    return {"jane": (new_click_id(jane_at), jane_at), "omar": (new_click_id(omar_at), omar_at)}


def test_tracking_link_click_then_signed_checkout_becomes_a_conversion(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data")
    settings.data_dir.mkdir()
    with (
        ReceiverProcess(settings, SECRET, TOKEN, env=BACKFILL) as receiver,
        httpx.Client(base_url=receiver.url) as client,
    ):
        click = client.get(
            "/r/omar-all?utm_source=youtube", headers={"User-Agent": "Mozilla/5.0 Firefox/140"}
        )
        assert click.status_code == 302
        click_id = parse_qs(urlsplit(click.headers["location"]).query)["rd_click_id"][0]
        assert click.headers["set-cookie"].startswith(f"rd_click_id={click_id};")
        bought_at = datetime.now(UTC) + timedelta(minutes=1)
        flow = StripeSim(seed=3, livemode=True).one_time_checkout(bought_at, 4900, click_id=click_id)
        for event in flow.events:
            response = post_event(client, event)
            assert response.status_code == 200, response.text
            assert response.json()["received"] is True
        forged = post_event(client, flow.events[0] | {"id": "evt_forged"}).request
        tampered = client.post(
            "/api/webhooks/stripe",
            content=forged.content.replace(b"4900", b"9900"),
            headers={"Stripe-Signature": forged.headers["stripe-signature"]},
        )
        assert tampered.status_code == 400

    run_pipeline(settings, now=bought_at + timedelta(days=1))
    tables = marts(settings)
    payment = tables["payments"].row(0, named=True)
    assert tables["payments"].height == 1
    assert payment["payment_id"] == flow.payment_intent
    assert payment["click_id"] == click_id
    assert payment["billing_reason"] == "one_time"
    conversion = tables["conversions"].row(0, named=True)
    assert (conversion["affiliate_id"], conversion["offer_id"], conversion["conversion_type"]) == (
        "omar",
        "lifetime-10",
        "initial",
    )
    line = tables["commission_lines"].row(0, named=True)
    assert (line["amount_minor"], line["status"], line["rule"]) == (
        490,
        "pending",
        "10% of 4900 usd, payment 1 (lifetime)",
    )
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    landed = con.sql("select utm_source, ip_hash from marts.clicks").fetchall()
    con.close()
    assert landed[0][0] == "youtube" and landed[0][1] and "127.0.0.1" not in landed[0][1]


def test_duplicated_and_reversed_delivery_gives_identical_marts(
    tmp_path: Path, fixed_clicks: dict[str, tuple[str, datetime]]
) -> None:
    events = history(fixed_clicks)
    results = {}
    for name, plan in (("in_order", events), ("twice_reversed", list(reversed(events)) * 2)):
        settings = settings_for(tmp_path / name)
        settings.data_dir.mkdir()
        with (
            ReceiverProcess(settings, SECRET, TOKEN, env=BACKFILL) as receiver,
            httpx.Client(base_url=receiver.url) as client,
        ):
            import_clicks(client, fixed_clicks)
            assert all(post_event(client, event).status_code == 200 for event in plan)
        run_pipeline(settings, now=NOW)
        results[name] = marts(settings)

    for table in MARTS:
        assert_frame_equal(results["in_order"][table], results["twice_reversed"][table])
    lines = results["in_order"]["commission_lines"]
    jane = lines.filter(pl.col("affiliate_id") == "jane")
    assert jane.height == 12 and jane["amount_minor"].to_list() == [1980] * 12  # the worked example
    assert jane["amount_minor"].sum() == 23760
    assert results["in_order"]["payments"].height == 16
    unattributed = results["in_order"]["unattributed_payments"]
    assert unattributed["reason"].to_list() == ["no_click_id"]


def test_incremental_runs_equal_one_rebuild_from_landing(
    tmp_path: Path, fixed_clicks: dict[str, tuple[str, datetime]]
) -> None:
    events = history(fixed_clicks)
    random.Random(5).shuffle(events)
    settings = settings_for(tmp_path / "data")
    settings.data_dir.mkdir()
    with (
        ReceiverProcess(settings, SECRET, TOKEN, env=BACKFILL) as receiver,
        httpx.Client(base_url=receiver.url) as client,
    ):
        import_clicks(client, fixed_clicks)
        third = len(events) // 3
        for chunk in (events[:third], events[third : 2 * third], events[2 * third :]):
            assert all(post_event(client, event).status_code == 200 for event in chunk)
            run_pipeline(settings, now=NOW)
    incremental = marts(settings)

    shutil.rmtree(settings.build_dir)
    settings.warehouse_path.unlink()
    run_pipeline(settings, now=NOW)
    rebuilt = marts(settings)
    for table in MARTS:
        assert_frame_equal(incremental[table], rebuilt[table])
