"""Landing → raw load throughput: the Arrow path (what `attro run` does) vs dlt's row-dict path.

DESIGN §2 says bulk paths stay columnar: landed NDJSON is read into Arrow tables and handed to dlt
whole, never as Python dicts through dlt's normalizer. This measures both on the same landed events,
in the same run, into fresh DuckDB files.

    python -m benchmarks.landing_load [--events 50000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.landing_records import dumps_record, stripe_event_record
from core.settings import Settings
from pipelines.lib.loading import load_landing
from simulator.stripe import StripeSim, encode


def land_events(landing_dir: Path, count: int) -> list[dict]:
    """Write `count` realistic events (simulated subscription traffic) as landing NDJSON files."""
    sim = StripeSim(seed=1, livemode=True)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    records: list[dict] = []
    while len(records) < count:
        flow = sim.subscription_checkout(at, 9900)
        for month in range(1, 6):
            flow.events.extend(sim.renewal(flow.sub, at + timedelta(days=30 * month)).events)
        records.extend(stripe_event_record(event, encode(event).decode(), at) for event in flow.events)
        at += timedelta(minutes=7)
    records = records[:count]
    folder = landing_dir / "stripe_events" / "date=2026-01-01"
    folder.mkdir(parents=True)
    for part in range(4):
        with (folder / f"bench-{part}.ndjson").open("w", encoding="utf-8") as fh:
            fh.writelines(dumps_record(r) for r in records[part::4])
    return records


def arrow_path(data_dir: Path) -> float:
    settings = Settings(data_dir=data_dir)
    started = time.perf_counter()
    stats = load_landing(settings, ("stripe_events",))
    elapsed = time.perf_counter() - started
    assert stats["stripe_events"]["new"] > 0
    return elapsed


def dict_path(data_dir: Path, records: list[dict]) -> float:
    """Baseline: the same rows as Python dicts through dlt's normalizer (what DESIGN rules out)."""
    import dlt  # after `pipelines`, which turns dlt's telemetry off before dlt is first imported

    started = time.perf_counter()
    rows = []
    for path in sorted((data_dir / "landing" / "stripe_events").rglob("*.ndjson")):
        with path.open(encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())

    @dlt.resource(
        name="stripe_events",
        primary_key="event_id",
        write_disposition="merge",
        columns={"payload": {"data_type": "json"}},
        max_table_nesting=0,
    )
    def events():
        yield rows

    pipeline = dlt.pipeline(
        pipeline_name="bench_dicts",
        destination=dlt.destinations.duckdb(str(data_dir / "dicts.duckdb")),
        dataset_name="raw",
        pipelines_dir=str(data_dir / "dlt_dicts"),
    )
    pipeline.run(events())
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks landing", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="attro-bench-load-"))
    try:
        print(f"landing {args.events} simulated Stripe events…", flush=True)
        records = land_events(root / "arrow" / "landing", args.events)
        shutil.copytree(root / "arrow" / "landing", root / "dicts" / "landing")
        arrow = arrow_path(root / "arrow")
        dicts = dict_path(root / "dicts", records)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    n = args.events
    print(f"landing → raw.stripe_events, {n} events")
    print(f"  arrow path (attro):         {arrow:7.2f} s  {n / arrow:9.0f} events/s")
    print(f"  baseline, dicts through dlt: {dicts:7.2f} s  {n / dicts:9.0f} events/s")
    print(f"  ratio: arrow path is {dicts / arrow:.1f}x the baseline's throughput")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
