"""Which events are landed already (what `attro stripe sync` and `backfill` skip): the lake's event id
column plus the landing lines not loaded yet, vs reading every landing line.

Both give the same ids. The baseline reads the whole landing zone with the pipeline's own reader
(complete lines, Polars); the lake path reads one Parquet column, filtered on the event time, and
parses only the lines loaded after the last run.

    python -m benchmarks.landed_ids [--events 100000] [--waiting 2000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.landing_load import land_events
from core.landing_records import dumps_record, stripe_event_record
from core.settings import Settings
from pipelines.lib.landed_events import STREAM, landed_event_ids
from pipelines.lib.loading import load_landing
from pipelines.sources.landing.helpers import iter_new
from simulator.stripe import StripeSim, encode


def every_landing_line(settings: Settings) -> set[str]:
    """Baseline: the event id of every landing line, whatever the lake holds."""
    ids: set[str] = set()
    for chunk in iter_new(STREAM, settings.landing_dir / STREAM, {}):
        ids.update(chunk.records["event_id"].to_list())
    return ids


def land_waiting(settings: Settings, count: int) -> None:
    """Events landed after the last run (not in the lake yet)."""
    sim, at = StripeSim(seed=2, livemode=True), datetime(2026, 3, 1, tzinfo=UTC)
    lines = []
    while len(lines) < count:
        lines += [
            dumps_record(stripe_event_record(e, encode(e).decode(), at))
            for e in sim.bare_charge(at, 900).events
        ]
        at += timedelta(minutes=1)
    path = settings.landing_dir / STREAM / "date=2026-03-01" / "bench-waiting.ndjson"
    path.parent.mkdir(parents=True)
    path.write_text("".join(lines), encoding="utf-8")


def best_of(runs: int, measure) -> tuple[float, set[str]]:
    times, result = [], set()
    for _ in range(runs):
        started = time.perf_counter()
        result = measure()
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks landed-ids")
    parser.add_argument("--events", type=int, default=100_000, help="events loaded into the lake")
    parser.add_argument("--waiting", type=int, default=2_000, help="events landed since the last run")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="attro-bench-ids-"))
    try:
        settings = Settings(data_dir=root / "data")
        land_events(settings.landing_dir, args.events)
        load_landing(settings, (STREAM,))
        land_waiting(settings, args.waiting)
        since = datetime(2025, 12, 1, tzinfo=UTC)  # everything: the worst case for the lake path
        lake, from_lake = best_of(3, lambda: landed_event_ids(settings, since))
        scan, from_lines = best_of(3, lambda: every_landing_line(settings))
        assert from_lake == from_lines, "both ways must find the same events"
        landing_mb = sum(p.stat().st_size for p in settings.landing_dir.rglob("*.ndjson")) / 1e6
        waiting = f"{args.waiting:,} not loaded yet"
        print(f"{len(from_lake):,} landed events ({landing_mb:,.0f} MB of landing lines, {waiting})")
        print(f"  lake column + unloaded lines: {lake:6.2f} s")
        print(f"  every landing line (baseline): {scan:6.2f} s")
        print(f"  ratio: {scan / lake:.1f}x faster")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
