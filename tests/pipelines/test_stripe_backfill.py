"""`attro stripe backfill`: older history pulled with dlt from Stripe's object lists becomes the payments,
conversions and commission lines its webhooks would have made, once, and an interrupted pull goes on."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from attro.cli import main
from pipelines.sources.stripe_api.snapshots import Reading
from pipelines.stripe_backfill import (
    BackfillFailed,
    BackfillReport,
    LandingSink,
    backfill_objects,
    pipeline_name,
)
from simulator.stripe import BASIL
from tests.support.fake_stripe import FakeStripe, backfilled, objects_from_events, serve
from tests.support.marts import MONEY, assert_same_money
from tests.support.sites import NOW1, drop_landed, landed_events, with_stripe_api

KEY = "rk_live_51AttroBackfillTests00001"
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def marts(site: Any) -> dict[str, Any]:
    return {table: site.frame(f"select * from marts.{table}") for table in MONEY}


def landing_lines(settings: Any) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted((settings.landing_dir / "stripe_events").rglob("*.ndjson"))
        for line in path.read_text().splitlines()
    ]


def test_history_without_webhooks_backfilled_makes_the_payments_conversions_and_commissions_of_its_events(
    base_site: Any, landing_only: Any
) -> None:
    everything = landed_events(base_site.settings)
    site = landing_only(base_site)
    drop_landed(site.settings, lambda event: True)  # installed after the fact: no webhook ever arrived
    fake = FakeStripe(KEY, objects=objects_from_events(everything))

    with serve(fake):
        report = backfill_objects(with_stripe_api(site.settings, fake.url, KEY), SINCE, now=NOW1)
    site.run(NOW1)

    assert_same_money(marts(site), marts(base_site), payment_time_slack=timedelta(seconds=10))
    lines = landing_lines(site.settings)
    assert {line["source"] for line in lines} == {"backfill"}
    assert sorted(line["event_id"] for line in lines) == sorted(e["id"] for e in backfilled(everything))
    assert sum(report.landed.values()) == len(lines)
    assert report.objects["invoices"] == len(fake.objects["/v1/invoices"])


def test_a_payment_both_backfilled_and_delivered_by_webhook_counts_once(
    base_site: Any, landing_only: Any, kit: Any
) -> None:
    everything = landed_events(base_site.settings)
    site = landing_only(base_site)  # every webhook arrived ...
    fake = FakeStripe(KEY, objects=objects_from_events(everything))

    with serve(fake):  # ... and the same history is backfilled
        backfill_objects(with_stripe_api(site.settings, fake.url, KEY), SINCE, now=NOW1)
    site.run(NOW1)

    assert len(landing_lines(site.settings)) > len(everything)
    assert kit.tables(site.settings.warehouse_path, ("marts",)) == kit.tables(
        base_site.settings.warehouse_path, ("marts",)
    )


def test_backfilled_codes_and_leads_attribute_as_their_webhooks_did(
    base_site: Any, copy_site: Any, landing_only: Any
) -> None:
    # Audit: a backfill listed no promotion codes, discounts or customers, so history sold through a
    # `[[codes]]` code (a subscription on API 2025-03-31: its invoices name a discount id) or a lead
    # (a customer signed up with the click id, paying later) came out unattributed (no_click_id).
    webhooks = copy_site(base_site)
    sim, at = webhooks.sim, datetime(2026, 2, 2, 10, 0, tzinfo=UTC)
    promo = webhooks.land(sim.promotion_code("THEO20", at - timedelta(days=20)))
    coded = sim.use_code(sim.subscription_checkout(at, 4900, api_version=BASIL), promo.promotion_code)
    webhooks.land(coded)
    webhooks.land(sim.renewal(coded.sub, at + timedelta(days=31)))  # its invoice lists the same discount
    # an invoice sent from the dashboard: no Checkout Session names the code, only its discount does
    webhooks.land(sim.use_code(sim.manual_invoice(at, 3900, api_version=BASIL), promo.promotion_code))
    click = webhooks.land_click("jane-pro", at - timedelta(days=3))
    lead = webhooks.land(sim.sign_up(at - timedelta(days=2), click_id=click))
    webhooks.land(sim.one_time_checkout(at + timedelta(days=1), 9900, customer=lead.customer))
    webhooks.run(NOW1)
    methods = webhooks.query(
        "select attribution_method, affiliate_id from marts.conversions"
        " where attribution_method in ('promotion_code', 'lead') order by 1"
    )
    assert methods == [("lead", "jane"), *[("promotion_code", "theo")] * 3]  # the renewal's too
    everything = landed_events(webhooks.settings)
    site = landing_only(webhooks)
    drop_landed(site.settings, lambda event: True)
    fake = FakeStripe(KEY, objects=objects_from_events(everything))

    with serve(fake):
        backfill_objects(with_stripe_api(site.settings, fake.url, KEY), SINCE, now=NOW1)
    site.run(NOW1)

    assert_same_money(marts(site), marts(webhooks), payment_time_slack=timedelta(seconds=10))
    landed = [line["event_id"] for line in landing_lines(site.settings)]
    assert len(landed) == len(set(landed))  # the discount both invoices list landed once
    assert (
        site.query(
            "select attribution_method, affiliate_id from marts.conversions"
            " where attribution_method in ('promotion_code', 'lead') order by 1"
        )
        == methods
    )
    # Audit: a later `--since` between the discount's start and its renewal invoice landed the discount
    # again (a snapshot dated by its start, before `since`, was not looked for) and said "landed now: 1"
    with serve(fake):
        again = backfill_objects(
            with_stripe_api(site.settings, fake.url, KEY), at + timedelta(days=10), now=NOW1
        )
    assert sum(again.landed.values()) == 0
    landed = [line["event_id"] for line in landing_lines(site.settings)]
    assert len(landed) == len(set(landed))


def purchases(kit: Any, days: int) -> list[dict[str, Any]]:
    """A one-time purchase a day from 2026-01-01 (the second one refunded): no webhook arrived."""
    sim = kit.sim(seed=41)
    events = []
    for day in range(days):
        flow = sim.one_time_checkout(SINCE + timedelta(days=day, hours=10), 1900 + day)
        events += flow.events + (
            sim.refund(flow, SINCE + timedelta(days=day + 2), 500).events if day == 1 else []
        )
    return events


def test_an_interrupted_backfill_goes_on_where_it_stopped_and_lands_each_object_once(kit: Any) -> None:
    events = purchases(kit, 50)  # January and February: two windows of 30 days
    fake = FakeStripe(KEY, objects=objects_from_events(events))
    now = datetime(2026, 2, 25, tzinfo=UTC)
    fake.go_down_after(pages=8 + 2)  # the first window's eight lists, then two of the second

    with serve(fake):
        settings = with_stripe_api(kit.settings(), fake.url, KEY)
        with pytest.raises(BackfillFailed, match="Stripe answered 500 while listing") as failed:
            backfill_objects(settings, SINCE, now=now)
        first = failed.value.report
        fake.restore()
        fake.requests.clear()
        rest = backfill_objects(settings, SINCE, now=now)

    expected = backfilled(events)
    assert 0 < sum(first.landed.values()) < len(expected)
    assert sum(first.landed.values()) + sum(rest.landed.values()) == len(expected)
    assert sum(rest.objects.values()) < sum(len(objects) for objects in fake.objects.values())  # no restart
    assert Counter(line["event_id"] for line in landing_lines(settings)) == Counter(e["id"] for e in expected)
    assert kit.run(settings)["marts/payments"]["rows"] == 50
    charges = [
        r for r in fake.served("/v1/charges") if int(r.params["created"]["gte"]) > int(SINCE.timestamp())
    ]
    assert charges, "the second backfill lists from dlt's cursor, not from --since"


def test_the_cursor_lives_in_dlt_state_under_data_state_and_a_rerun_reads_only_what_is_new(kit: Any) -> None:
    events = purchases(kit, 10)
    fake = FakeStripe(KEY, objects=objects_from_events(events))
    now = datetime(2026, 1, 20, tzinfo=UTC)

    with serve(fake):
        settings = with_stripe_api(kit.settings(), fake.url, KEY)
        first = backfill_objects(settings, SINCE, now=now)
        again = backfill_objects(settings, SINCE, now=now)

    state = settings.state_dir / "stripe_backfill" / pipeline_name(SINCE) / "state.json"
    cursors = json.loads(state.read_text())["sources"]["stripe"]["resources"]
    assert cursors["charges"]["incremental"]["created"]["last_value"] == max(
        c["created"] for c in fake.objects["/v1/charges"]
    )
    assert sum(first.landed.values()) == len(backfilled(events))
    assert sum(again.objects.values()) == sum(again.landed.values()) == 0


def test_a_backfill_that_lost_its_dlt_state_reads_again_but_lands_nothing_twice(kit: Any) -> None:
    events = purchases(kit, 10)
    fake = FakeStripe(KEY, objects=objects_from_events(events))
    now = datetime(2026, 1, 20, tzinfo=UTC)

    with serve(fake):
        settings = with_stripe_api(kit.settings(), fake.url, KEY)
        backfill_objects(settings, SINCE, now=now)
        shutil.rmtree(settings.state_dir / "stripe_backfill")
        again = backfill_objects(settings, SINCE, now=now)

    assert sum(again.objects.values()) == sum(len(objects) for objects in fake.objects.values())
    assert sum(again.landed.values()) == 0
    assert sum(again.already_landed.values()) == len(backfilled(events)) == len(landing_lines(settings))


def test_a_429_mid_backfill_is_waited_out(kit: Any) -> None:
    events = purchases(kit, 5)
    fake = FakeStripe(KEY, objects=objects_from_events(events))
    fake.rate_limit_once("/v1/invoices", request=1, retry_after=1)
    sleeps: list[float] = []

    with serve(fake):
        settings = with_stripe_api(kit.settings(), fake.url, KEY)
        report = backfill_objects(settings, SINCE, now=datetime(2026, 1, 10, tzinfo=UTC), sleep=sleeps.append)

    assert sleeps == [1.0]
    assert sum(report.landed.values()) == len(backfilled(events))


def cli(monkeypatch: pytest.MonkeyPatch, settings: Any, url: str, key: str, *argv: str) -> int:
    monkeypatch.setenv("ATTRO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ATTRO_PROGRAM", str(settings.program_path))
    monkeypatch.setenv("ATTRO_STRIPE_API_BASE", url)
    monkeypatch.setenv("ATTRO_STRIPE_API_KEY", key)
    return main(["stripe", *argv])


def test_attro_stripe_backfill_prints_objects_read_and_events_landed(
    kit: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    events = purchases(kit, 3)
    fake = FakeStripe(KEY, objects=objects_from_events(events))

    with serve(fake):
        code = cli(monkeypatch, kit.settings(), fake.url, KEY, "backfill", "--since", "2026-01-01")

    out, err = capsys.readouterr()
    assert code == 0
    progress = err.splitlines()  # a line per 30-day window, as it goes: a long backfill shows progress
    assert progress and all(
        re.match(r"^  window \d+ of \d+: objects created up to ", line) for line in progress
    )
    last = progress[-1]
    assert re.match(r"^  window (\d+) of \1: ", last) and last.endswith("10 objects so far, 10 events landed")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("  ")}
    assert rows["charges"] == ["3", "0", "3"]
    assert rows["refunds"] == ["1", "0", "1"]
    assert rows["all"] == ["10", "0", "10"]
    assert "landed 10 events of backfilled objects (source 'backfill')" in out


def test_a_rejected_key_stops_the_backfill_with_one_line_and_exit_2(
    kit: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeStripe(KEY)
    revoked = "rk_live_51RevokedKey0000000000"

    with serve(fake):
        code = cli(monkeypatch, kit.settings(), fake.url, revoked, "backfill", "--since", "2026-01-01")

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""  # no table of zeros before the error
    assert err.startswith("error: Stripe rejected the API key (401): Invalid API Key provided: rk_live_")
    assert len(err.strip().splitlines()) == 1 and revoked not in err and "Traceback" not in err


def test_a_discount_several_invoices_of_one_page_list_is_landed_once(kit: Any) -> None:
    # Review: each renewal invoice of a subscription lists its discount, and every copy was landed
    # (and counted as landed); raw kept one, so only the report was wrong.
    landed: list[str] = []

    class Landing:
        def land(self, events: list[dict[str, Any]]) -> None:
            landed.extend(event["id"] for event in events)

    discount = {"id": "di_1", "object": "discount", "start": 1767225600, "promotion_code": "promo_1"}
    invoices = [
        {
            "id": f"in_{n}",
            "object": "invoice",
            "status": "paid",
            "created": 1767225600 + n,
            "discounts": [discount],
        }
        for n in range(3)
    ]
    page = pa.RecordBatch.from_pydict({"object": [json.dumps(invoice) for invoice in invoices]})
    report = BackfillReport(since=SINCE, until=SINCE)

    LandingSink(Landing(), Reading("2026-10-28.endive", livemode=True), set(), report)(
        page, {"name": "invoices"}
    )

    assert sorted(landed) == [
        "evt_backfill_di_1",
        "evt_backfill_in_0",
        "evt_backfill_in_1",
        "evt_backfill_in_2",
    ]
    assert report.landed["invoices"] == 4
