"""Tests for the traffic generator: deterministic, the receiver's exact lines, loadable by the pipeline."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.click_ids import is_click_id
from core.landing_records import dumps_record, encode_record, utc_timestamp
from core.settings import Settings
from pipelines.run import run_pipeline
from receiver.stripe_events import stripe_event_record
from simulator.stripe import encode
from simulator.traffic import Merchant, append_increment, generate, rfc3339
from tests.support.paths import DEMO_PROGRAM

MERCHANT = Merchant(events=300, seed=3, days=30)
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def lines(landing: Path, stream: str) -> list[bytes]:
    return [line for path in sorted((landing / stream).rglob("*.ndjson")) for line in path.open("rb")]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    landing = tmp_path_factory.mktemp("traffic") / "data" / "landing"
    return landing, generate(MERCHANT, landing)


def test_the_same_seed_lands_the_same_bytes(landed: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    landing, summary = landed
    again = generate(MERCHANT, tmp_path / "landing")
    assert again == summary
    assert tree(tmp_path / "landing") == tree(landing)


def test_event_lines_are_what_the_receiver_writes(landed: tuple[Path, dict[str, int]]) -> None:
    landing, summary = landed
    event_lines = lines(landing, "stripe_events")
    ids = set()
    for line in event_lines:
        record = json.loads(line)
        event = json.loads(record["payload"])
        assert encode(event).decode() == record["payload"]  # the body as Stripe sends it
        received = datetime.fromisoformat(record["received_at"].replace("Z", "+00:00"))
        assert encode_record(stripe_event_record(event, record["payload"], received)) == line
        ids.add(event["id"])
    assert len(event_lines) == summary["event_lines"] > len(ids) == summary["events"] >= 300


def test_click_lines_are_what_the_receiver_writes(landed: tuple[Path, dict[str, int]]) -> None:
    landing, summary = landed
    click_lines = lines(landing, "clicks")
    records = [json.loads(line) for line in click_lines]
    assert [dumps_record(r).encode() for r in records] == click_lines
    assert all(is_click_id(r["click_id"]) and r["clicked_at"] == r["received_at"] for r in records)
    assert len({r["click_id"] for r in records}) == len(records) == summary["clicks"]
    assert {r["link_code"] for r in records} == {"jane-pro", "omar-all", "lena-ebook"}


def test_rfc3339_is_the_landing_time_format() -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC)
    assert rfc3339(int(at.timestamp()) * 1_000_000 + 89) == utc_timestamp(at)


def test_the_pipeline_finds_payments_and_conversions(landed: tuple[Path, dict[str, int]]) -> None:
    landing, summary = landed
    report = run_pipeline(Settings(data_dir=landing.parent, program=DEMO_PROGRAM), now=NOW)
    assert report["raw/stripe_events"]["new_events"] == summary["events"]
    assert report["marts/payments"]["rows"] == summary["payments"] > 0
    assert report["marts/conversions"]["rows"] > 0


def test_an_increment_lands_new_files_for_the_next_day(
    landed: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(landed[0], landing)
    before = tree(landing)
    added = append_increment(MERCHANT, landing)
    after = tree(landing)
    new = set(after) - set(before)
    assert {name: after[name] for name in before} == before
    assert {Path(name).parent.name for name in new} == {"date=2026-12-01"}
    assert added["events"] >= 3 and added["clicks"] > 0
