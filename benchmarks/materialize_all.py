"""Dagster benchmark: the whole graph run from Dagster's UI ("Materialize all") beside `attro run`.

Issue 12: "Materialize all" from the UI must not be slower than `attro run` (it took ~5× the named
job when the code location's default executor started a process per step). Over a data dir holding a
merchant's history (simulator/traffic.py, the pipeline benchmark's cache), `dagster dev` runs as ops
start it (`make dev`: the project's dagster.yaml, queued runs one at a time, the sensor on), and each
of these is a full rebuild from the landing zone (lake, build and warehouse removed before it):

  the sensor's first run (the named job `materialize_all`, asked for because the landing zone is new)
  · `attro run` · "Materialize all" (the ad-hoc job of every asset, launched through the webserver's
  GraphQL API as the UI's button launches it) · the named job launched the same way · `attro run`

A Dagster run's time is what the person who clicked waits: from the launch request to the run's end
in Dagster's run storage (queueing, the run worker's start and imports, the steps, the checks). It is
compared with the mean of the two `attro run`s around it (whole processes, started the same way
ops start them, on the same machine with `dagster dev` idle beside them). Each run must publish the
same marts: payments and conversions are counted after each.

    python -m benchmarks materialize-all [--events 25000] [--seed 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.freshness import DagsterDev, _env, history_settings
from benchmarks.pipeline import attro_command, measure, remove_build, warehouse_counts, work_root
from core.settings import Settings

DEFAULT_EVENTS = 25_000
RUN_TIMEOUT = 1800.0
POLL_SECONDS = 0.5  # a run's end is read from run storage, so polling more often would only take CPU from it
ADHOC_JOB = "__ASSET_JOB"  # the job Dagster builds for a selection of assets, as the UI's button runs
NAMED_JOB = "materialize_all"


@dataclass
class DagsterRun:
    """One Dagster run: seconds from the launch request to its start (RUN_START, after the worker has
    loaded the code) and to its end, and the marts it published."""

    name: str
    to_start: float
    to_end: float
    counts: dict[str, int]


def wait_for_run(dagster: DagsterDev, run_id: str, since: float, name: str) -> DagsterRun:
    """Poll run storage until the run ends; fails unless it succeeded."""
    from dagster import DagsterInstance, DagsterRunStatus

    deadline = time.monotonic() + RUN_TIMEOUT
    with DagsterInstance.from_config(str(dagster.home)) as instance:
        while time.monotonic() < deadline:
            record = instance.get_run_record_by_id(run_id)
            if record is not None and record.end_time is not None:
                status = record.dagster_run.status
                if status != DagsterRunStatus.SUCCESS:
                    raise RuntimeError(f"{name} run {run_id} ended {status.value}; see {dagster.home}")
                start = record.start_time if record.start_time is not None else record.end_time
                return DagsterRun(name, start - since, record.end_time - since, {})
            time.sleep(POLL_SECONDS)
    raise RuntimeError(f"{name} run {run_id} did not end within {RUN_TIMEOUT:.0f} s")


def sensor_run(dagster: DagsterDev) -> str:
    """The run the sensor asks for on its first look at a new landing zone."""
    from dagster import DagsterInstance, RunsFilter

    deadline = time.monotonic() + 120
    with DagsterInstance.from_config(str(dagster.home)) as instance:
        while time.monotonic() < deadline:
            runs = instance.get_runs(filters=RunsFilter(job_name=NAMED_JOB), limit=1)
            if runs:
                return runs[0].run_id
            time.sleep(0.2)
    raise RuntimeError("the sensor asked for no run within 120 s of a new landing zone")


def launch(dagster: DagsterDev, job: str) -> tuple[str, float]:
    """Launch `job` through the webserver's GraphQL API (every asset for the ad-hoc job, as the UI's
    "Materialize all" selects them); returns the run id and when it was asked for (epoch seconds)."""
    from dagster_graphql import DagsterGraphQLClient

    from pipelines.assets import ASSETS

    client = DagsterGraphQLClient("127.0.0.1", port_number=dagster.port, timeout=60)
    selection = [key for asset in ASSETS for key in asset.keys] if job == ADHOC_JOB else None
    asked = time.time()
    return client.submit_job_execution(job, asset_selection=selection), asked


def run_dagster(dagster: DagsterDev, settings: Settings, job: str, name: str) -> DagsterRun:
    remove_build(settings.data_dir)
    run_id, asked = launch(dagster, job)
    run = wait_for_run(dagster, run_id, asked, name)
    run.counts = warehouse_counts(settings.data_dir)
    return run


def run_attro(settings: Settings) -> tuple[float, dict[str, int]]:
    remove_build(settings.data_dir)
    result = measure(attro_command(), _env(settings))
    return result.seconds, warehouse_counts(settings.data_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks materialize-all", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="events of history")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="cache generated data and keep the run's files here")
    args = parser.parse_args(argv)
    root = work_root(args.keep)
    work = root / f"materialize-all-{args.events}-s{args.seed}"
    print(f"== Dagster's Materialize all at {args.events:,} events of history ==", flush=True)
    settings, history = history_settings(work, args.events, args.seed)
    data = settings.data_dir
    with DagsterDev(settings, work / "dagster_home") as dagster:
        asked = time.time()  # about when the sensor could first look (dagster dev answers)
        first = wait_for_run(dagster, sensor_run(dagster), asked, "sensor's first")
        first.counts = warehouse_counts(data)
        attro_before = run_attro(settings)
        adhoc = run_dagster(dagster, settings, ADHOC_JOB, '"Materialize all"')
        named = run_dagster(dagster, settings, NAMED_JOB, NAMED_JOB)
        attro_after = run_attro(settings)
    same = report(history, first, [adhoc, named], [attro_before, attro_after])
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


def report(
    history: dict[str, int],
    first: DagsterRun,
    runs: list[DagsterRun],
    attro: list[tuple[float, dict[str, int]]],
) -> bool:
    """Print the figures; whether every run published the same marts."""
    baseline = statistics.mean(seconds for seconds, _ in attro)
    print(
        f"  history: {history['events']:,} events, {history['clicks']:,} clicks; every run a full rebuild"
        f"\n  attro run: {attro[0][0]:.2f} s and {attro[1][0]:.2f} s (mean {baseline:.2f} s), the baseline"
    )
    for run in runs:
        verdict = "pass" if run.to_end <= baseline else "MISS"
        print(
            f"  {run.name}: {run.to_end:.2f} s from the launch request to the run's end ({run.to_start:.2f} s"
            f" to its start): {run.to_end / baseline:.2f}× attro run (target: not slower, {verdict})"
        )
    print(f"  (the sensor's first run, from dagster dev answering: {first.to_end:.2f} s)")
    published = [(r.name, r.counts) for r in [first, *runs]] + [("attro run", c) for _, c in attro]
    for name, counts in published:
        print(f"  {name} published {counts['payments']:,} payments, {counts['conversions']:,} conversions")
    if len({str(counts) for _, counts in published}) > 1:
        print("  MISMATCH: the runs did not publish the same marts")
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
