"""The pipeline benchmark's SQL baseline: keeping raw first (--keep-raw) changes what it keeps, not what
it finds."""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson
import pytest

from benchmarks.pipeline_baseline import raw_dir, run
from core.contracts import LANDED_RECORDS
from simulator.traffic import Merchant, generate

MERCHANT = Merchant(events=400, seed=5, days=40)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("baseline") / "data"
    generate(MERCHANT, data / "landing")
    return data


def landed(data_dir: Path, stream: str) -> list[dict]:
    files = sorted((data_dir / "landing" / stream).rglob("*.ndjson"))
    return [orjson.loads(line) for path in files for line in path.read_bytes().splitlines()]


def test_keeping_raw_finds_the_same_payments_and_conversions(data_dir: Path, tmp_path: Path) -> None:
    plain = run(data_dir, tmp_path / "plain" / "baseline.duckdb", "1GB")
    keeping = run(data_dir, tmp_path / "raw" / "baseline.duckdb", "1GB", keep_raw=True)

    assert keeping == plain
    assert plain["payments"] > 0 and plain["conversions"] > 0


def test_keeping_raw_keeps_every_landed_record_as_it_landed(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "baseline.duckdb"
    run(data_dir, out, "1GB", keep_raw=True)

    with duckdb.connect() as con:
        for stream, key in (("stripe_events", "event_id"), ("clicks", "click_id")):
            records = landed(data_dir, stream)
            kept = con.sql(f"select * from read_parquet('{raw_dir(out) / stream}.parquet')").pl()
            assert kept.height == len(records)  # every line, redeliveries too (ids kept once when read)
            assert set(kept.columns) == set(LANDED_RECORDS[stream])
            as_landed = [{name: record.get(name) for name in kept.columns} for record in records]
            by_line = sorted(kept.rows(named=True), key=lambda r: (r[key], r["received_at"]))
            assert by_line == sorted(as_landed, key=lambda r: (r[key], r["received_at"]))
