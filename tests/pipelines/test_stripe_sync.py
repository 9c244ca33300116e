"""`attro stripe sync`: the events webhooks missed are landed from Stripe's events API, once."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from attro.cli import main
from core.contracts import CONSUMED_EVENT_TYPES
from pipelines.lib.landed_events import landed_event_ids
from pipelines.lib.loading import load_landing
from pipelines.sources.stripe_api.settings import MAX_TYPES_PER_LIST
from pipelines.stripe_sync import SyncFailed, status_path, sync_events
from tests.support.fake_stripe import FakeStripe, serve
from tests.support.sites import NOW1, drop_landed, landed_events, with_stripe_api

KEY = "rk_test_51AttroSyncTests000000001"
EVENTS = "/v1/events"
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def landing_lines(settings: Any) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted((settings.landing_dir / "stripe_events").rglob("*.ndjson"))
        for line in path.read_text().splitlines()
    ]


def every_third(events: list[dict[str, Any]]) -> Any:
    dropped = {e["id"] for e in events[::3]}
    return lambda event: event["id"] in dropped


def test_a_sync_lands_what_the_webhooks_missed_and_the_marts_equal_the_story_delivered_whole(
    base_site: Any, landing_only: Any, kit: Any
) -> None:
    everything = landed_events(base_site.settings)
    site = landing_only(base_site)
    dropped = drop_landed(site.settings, every_third(everything))
    fake = FakeStripe(KEY, events=everything)

    with serve(fake):
        report = sync_events(with_stripe_api(site.settings, fake.url, KEY), since=SINCE)
    site.run(NOW1)

    assert report.missed_by_webhooks == len(dropped) > 0
    assert report.landed == Counter(e["type"] for e in dropped)
    assert sum(report.seen.values()) == len(everything)
    assert kit.tables(site.settings.warehouse_path, ("marts",)) == kit.tables(
        base_site.settings.warehouse_path, ("marts",)
    )
    synced = [line for line in landing_lines(site.settings) if line["source"] == "api"]
    assert {line["event_id"]: json.loads(line["payload"]) for line in synced} == {e["id"]: e for e in dropped}
    # one page per list holds the story; Stripe takes at most 20 types per list
    requests = fake.served(EVENTS)
    assert [t for r in requests for t in r.params["types"]] == list(CONSUMED_EVENT_TYPES)
    assert all(len(r.params["types"]) <= MAX_TYPES_PER_LIST for r in requests)
    assert {r.params["created"]["gte"] for r in requests} == {str(int(SINCE.timestamp()))}


def test_a_second_sync_lands_nothing_and_says_every_event_was_landed(
    base_site: Any, landing_only: Any
) -> None:
    everything = landed_events(base_site.settings)
    site = landing_only(base_site)
    drop_landed(site.settings, every_third(everything))
    fake = FakeStripe(KEY, events=everything)

    with serve(fake):
        settings = with_stripe_api(site.settings, fake.url, KEY)
        first = sync_events(settings, since=SINCE)
        lines = landing_lines(site.settings)
        second = sync_events(settings, since=SINCE)

    assert first.missed_by_webhooks > 0
    assert second.missed_by_webhooks == 0
    assert second.already_landed == first.seen
    assert landing_lines(site.settings) == lines


def bulk_purchases(kit: Any, count: int) -> list[dict[str, Any]]:
    """`count` one-time purchases a day apart from kit.at: three events each."""
    sim = kit.sim(seed=21)
    return [e for i in range(count) for e in sim.one_time_checkout(kit.at + timedelta(days=i), 1900).events]


def test_an_interrupted_sync_keeps_whole_pages_and_the_next_one_lands_the_rest_once(kit: Any) -> None:
    events = bulk_purchases(kit, 40)  # 120 events, none delivered: two pages
    fake = FakeStripe(KEY, events=events)
    fake.go_down_after(pages=1)

    with serve(fake):
        settings = with_stripe_api(kit.settings(), fake.url, KEY)
        with pytest.raises(SyncFailed, match="Stripe answered 500") as failed:
            sync_events(settings, since=SINCE)
        landed_before = len(landing_lines(settings))
        stopped = json.loads(status_path(settings).read_text())  # what the health page shows
        fake.restore()
        rest = sync_events(settings, since=SINCE)
    finished = json.loads(status_path(settings).read_text())

    assert failed.value.report.missed_by_webhooks == landed_before == 100
    assert rest.missed_by_webhooks == 20
    assert (stopped["missed_by_webhooks"], finished["missed_by_webhooks"]) == (100, 20)
    assert "Stripe answered 500" in stopped["failed"] and finished["failed"] is None
    assert finished["events_seen"] == 120 and finished["already_landed"] == 100
    assert sorted(line["event_id"] for line in landing_lines(settings)) == sorted(e["id"] for e in events)
    assert kit.run(settings)["marts/payments"]["rows"] == 40


def test_a_429_mid_sync_is_waited_out_and_the_sync_completes(kit: Any) -> None:
    events = bulk_purchases(kit, 40)
    fake = FakeStripe(KEY, events=events)
    fake.rate_limit_once(EVENTS, request=2, retry_after=1)
    sleeps: list[float] = []

    with serve(fake):
        report = sync_events(with_stripe_api(kit.settings(), fake.url, KEY), since=SINCE, sleep=sleeps.append)

    assert sleeps == [1.0]
    assert report.missed_by_webhooks == len(events)


def test_landed_ids_are_the_lakes_from_the_date_asked_plus_lines_not_loaded_yet(kit: Any) -> None:
    settings = kit.settings()
    landing = kit.landing(settings)
    sim = kit.sim(seed=22)
    old = sim.one_time_checkout(datetime(2025, 6, 1, tzinfo=UTC), 1000).events
    loaded = sim.one_time_checkout(kit.at, 1000).events
    landing.events([*old, *loaded])
    load_landing(settings)
    waiting = sim.one_time_checkout(kit.at, 2000).events
    landing.events(waiting, name="host-2-0000bbbb")
    landing.append("stripe_events", kit.event_line(sim.bare_charge(kit.at, 500).events[0])[:40])  # torn

    assert landed_event_ids(settings, SINCE) == {e["id"] for e in [*loaded, *waiting]}
    assert landed_event_ids(settings) == {e["id"] for e in [*old, *loaded, *waiting]}


def cli(monkeypatch: pytest.MonkeyPatch, settings: Any, url: str, key: str | None, *argv: str) -> int:
    monkeypatch.setenv("ATTRO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ATTRO_PROGRAM", str(settings.program_path))
    monkeypatch.setenv("ATTRO_STRIPE_API_BASE", url)
    if key:
        monkeypatch.setenv("ATTRO_STRIPE_API_KEY", key)
    return main(["stripe", *argv])


def test_attro_stripe_sync_prints_what_it_saw_and_landed_by_type_and_heals_the_marts(
    base_site: Any,
    landing_only: Any,
    kit: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    everything = landed_events(base_site.settings)
    site = landing_only(base_site)
    lost = {"invoice.paid", "invoice.payment_succeeded", "refund.created", "charge.refunded"}
    dropped = drop_landed(site.settings, lambda e: e["type"] in lost)
    fake = FakeStripe(KEY, events=everything)
    fake.rate_limit_once(EVENTS, request=2, retry_after=0.01)

    with serve(fake):
        code = cli(monkeypatch, site.settings, fake.url, KEY, "sync", "--since", "2026-01-01")
    site.run(NOW1)

    out, err = capsys.readouterr()
    assert code == 0
    # progress on stderr as it goes: every page read, and a wait Stripe asked for (audit: silent)
    assert "  Stripe asked to slow down (429): waiting 0.01 s" in err
    assert f"  {len(everything)} events read so far, {len(dropped)} landed" in err
    # further back than Stripe lists events (the fake lists them all): the note says what to run
    assert "note: Stripe lists only the last 30 days of events; for what was created before, run" in err
    assert kit.tables(site.settings.warehouse_path, ("marts",)) == kit.tables(
        base_site.settings.warehouse_path, ("marts",)
    )
    assert "events created 2026-01-01 00:00 UTC to " in out
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("invoice.paid"))
    paid = sum(e["type"] == "invoice.paid" for e in dropped)
    assert row == ["invoice.paid", str(paid), "0", str(paid)]
    total = next(line.split() for line in out.splitlines() if line.strip().startswith("all"))
    assert total == ["all", str(len(everything)), str(len(everything) - len(dropped)), str(len(dropped))]
    assert f"landed {len(dropped)} events the webhooks had missed" in out


@pytest.mark.parametrize("key", ["rk_test_51Revoked0000000000000", None])
def test_a_missing_or_rejected_key_is_one_line_and_exit_2(
    kit: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], key: str | None
) -> None:
    fake = FakeStripe(KEY)
    with serve(fake):
        code = cli(monkeypatch, kit.settings(), fake.url, key, "sync")

    err = capsys.readouterr().err
    assert code == 2
    expected = "error: Stripe rejected the API key (401): " if key else "error: no Stripe API key: set"
    assert err.startswith(expected)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert key is None or key not in err
    assert not list(kit.settings().landing_dir.rglob("*.ndjson"))


def test_the_default_window_is_stripes_30_days_up_to_a_few_minutes_ago(kit: Any) -> None:
    fake = FakeStripe(KEY)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with serve(fake):
        sync_events(with_stripe_api(kit.settings(), fake.url, KEY), now=now)

    for request in fake.served(EVENTS):  # one list per group of types, each over the same window
        assert request.params["created"] == {
            "gte": str(int(datetime(2026, 10, 31, 12, 0, tzinfo=UTC).timestamp())),
            "lt": str(int(datetime(2026, 11, 30, 11, 50, tzinfo=UTC).timestamp())),
        }
    assert fake.served(EVENTS)


def test_a_since_within_the_last_minutes_is_refused_naming_the_window(
    kit: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Audit: it read an inverted window ("16:20 to 16:13") and said the webhooks missed nothing.
    fake = FakeStripe(KEY)
    since = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    with serve(fake):
        code = cli(monkeypatch, kit.settings(), fake.url, KEY, "sync", "--since", since)

    err = capsys.readouterr().err
    assert code == 2
    assert "is within the last 10 minutes: a sync reads events created up to 10 minutes ago" in err
    assert fake.requests == []


def test_a_sync_waits_for_another_and_lands_only_what_that_one_did_not(kit: Any) -> None:
    # Audit: two syncs at once (the daily schedule and one by hand) each landed every missed event,
    # and each reported them as missed by the webhooks.
    events = bulk_purchases(kit, 10)
    fake = FakeStripe(KEY, events=events)
    told: list[str] = []
    reports: dict[str, Any] = {}
    threads: list[threading.Thread] = []

    with serve(fake):
        settings = with_stripe_api(kit.settings(), fake.url, KEY)

        def second() -> None:
            reports["second"] = sync_events(settings, since=SINCE, on_wait=told.append)

        def start_second_once(_report: Any) -> None:  # the first holds its lock, mid-way
            if not threads:
                threads.append(threading.Thread(target=second))
                threads[0].start()
                deadline = time.monotonic() + 10
                while not told and time.monotonic() < deadline:
                    time.sleep(0.05)

        reports["first"] = sync_events(settings, since=SINCE, progress=start_second_once)
        threads[0].join(30)

    assert told and told[0].startswith("another stripe sync (pid ")
    assert (reports["first"].missed_by_webhooks, reports["second"].missed_by_webhooks) == (len(events), 0)
