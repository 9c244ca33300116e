"""Dagster's run history pruned: old finished runs deleted with their files, on a real SQLite instance."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteRepositoryOrigin
from dagster._core.storage.runs.schema import RunsTable

from core.settings import Settings
from pipelines import run_history
from pipelines.definitions import build_definitions
from pipelines.resources import AttroResource
from pipelines.run_history import prune_runs

S = dg.DagsterRunStatus
DAYS_AGO_40 = datetime.now(UTC) - timedelta(days=40)


def add_run(instance: dg.DagsterInstance, job: str, status: dg.DagsterRunStatus) -> str:
    """A run of `job` in `status` (a queued run names its code location, as the daemon's queue holds it)."""
    repository = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("attro"), "__repository__")
    origin = repository.get_job_origin(job)
    run = dg.DagsterRun(job_name=job, run_id=str(uuid.uuid4()), status=status, remote_job_origin=origin)
    return instance.add_run(run).run_id


def created_at(instance: dg.DagsterInstance, run_ids: list[str], when: datetime) -> None:
    """Back-date runs (run storage stamps a run with the time it is added)."""
    with instance.run_storage.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(
            RunsTable.update()
            .where(RunsTable.c.run_id.in_(run_ids))
            .values(create_timestamp=when.replace(tzinfo=None))
        )


def files_of(instance: dg.DagsterInstance, run_id: str) -> list[Path]:
    """The run's own event log file and captured logs folder, those that exist."""
    root = Path(instance.root_directory)
    return [p for p in (root / "history" / "runs" / f"{run_id}.db", root / "storage" / run_id) if p.exists()]


@dg.asset
def ledger() -> None:
    print("a line for the captured logs")


def prune_tick(settings: Settings, instance: dg.DagsterInstance) -> dg.ScheduleExecutionData:
    schedule = build_definitions(AttroResource.from_settings(settings)).resolve_schedule_def(
        "prune_run_history"
    )
    resources = {"attro": AttroResource.from_settings(settings)}
    with dg.build_schedule_context(instance=instance, resources=resources) as context:
        return schedule.evaluate_tick(context)


def test_the_schedule_prunes_old_finished_runs_and_keeps_recent_unfinished_and_latest_ones(kit) -> None:
    with dg.instance_for_test() as instance:  # SQLite files in a temporary DAGSTER_HOME, as `make dev`'s
        # Two real runs (event log files, captured logs), 40 days old; the second the latest success.
        real = [dg.materialize([ledger], instance=instance).run_id for _ in range(2)]
        assert all(files_of(instance, run_id) for run_id in real)
        job = instance.get_run_by_id(real[0]).job_name
        old = {
            "success": add_run(instance, "materialize_all", S.SUCCESS),
            "failure": add_run(instance, "materialize_all", S.FAILURE),
            "canceled": add_run(instance, "materialize_all", S.CANCELED),
            "queued": add_run(instance, "materialize_all", S.QUEUED),
            "started": add_run(instance, "materialize_all", S.STARTED),
            "latest success": add_run(instance, "materialize_all", S.SUCCESS),
        }
        created_at(instance, [*real, *old.values()], DAYS_AGO_40)
        # recent runs: the newest of each job, all failed (the latest successes above are old)
        recent = [add_run(instance, name, S.FAILURE) for name in ("materialize_all", job) for _ in range(8)]

        newest = instance.get_runs(filters=dg.RunsFilter(job_name="materialize_all"), limit=8)

        tick = prune_tick(kit.settings(), instance)

        left = {run.run_id for run in instance.get_runs()}
        gone = [real[0], old["success"], old["failure"], old["canceled"]]
        assert left == set(recent) | {real[1], old["queued"], old["started"], old["latest success"]}
        assert tick.skip_message is not None
        assert tick.skip_message.startswith("deleted 4 finished runs older than 30 days")
        assert [files_of(instance, run_id) for run_id in gone] == [[], [], [], []]
        assert len(files_of(instance, real[1])) == 2
        assert instance.get_latest_materialization_event(ledger.key).run_id == real[1]  # type: ignore[union-attr]
        # what the landing sensor reads is as it was: materialize_all's newest 8 runs
        assert instance.get_runs(filters=dg.RunsFilter(job_name="materialize_all"), limit=8) == newest
        assert prune_tick(kit.settings(), instance).skip_message.startswith("deleted 0 finished runs")  # type: ignore[union-attr]


def test_the_days_kept_come_from_the_setting(kit, monkeypatch) -> None:
    monkeypatch.setenv("ATTRO_DAGSTER_KEEP_RUNS_DAYS", "50")
    with dg.instance_for_test() as instance:
        runs = [add_run(instance, "materialize_all", S.FAILURE) for _ in range(10)]
        created_at(instance, runs, DAYS_AGO_40)

        tick = prune_tick(kit.settings(), instance)

        assert tick.skip_message.startswith("deleted 0 finished runs older than 50 days")  # type: ignore[union-attr]
        assert len(instance.get_runs()) == 10


def test_a_tick_stops_when_its_time_is_spent_and_the_next_goes_on() -> None:
    with dg.instance_for_test() as instance:
        runs = [add_run(instance, "materialize_all", S.SUCCESS) for _ in range(20)]
        created_at(instance, runs, DAYS_AGO_40)
        seconds = itertools.count()  # each look at the clock one second later

        first = prune_runs(instance, datetime.now(UTC), budget_seconds=5, batch=3, clock=seconds.__next__)
        assert (first.deleted, first.more) == (4, True)  # the oldest, in batches of 3
        assert {r.run_id for r in instance.get_runs()} == set(runs[4:])

        rest = prune_runs(instance, datetime.now(UTC), budget_seconds=100, batch=3)
        assert (rest.deleted, rest.more) == (20 - 4 - run_history.NEWEST_KEPT, False)
        assert {r.run_id for r in instance.get_runs()} == set(runs[-run_history.NEWEST_KEPT :])


def test_the_schedule_runs_hourly_by_default_and_asks_for_no_run(kit) -> None:
    defs = build_definitions(AttroResource.from_settings(kit.settings()))
    schedule = defs.resolve_schedule_def("prune_run_history")

    assert (schedule.cron_schedule, schedule.execution_timezone) == ("40 * * * *", "UTC")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.instance_for_test() as instance:
        assert not prune_tick(kit.settings(), instance).run_requests


def test_the_prune_old_runs_job_deletes_a_whole_backlog_in_one_run(kit) -> None:
    with dg.instance_for_test() as instance:
        runs = [add_run(instance, "materialize_all", S.SUCCESS) for _ in range(250)]  # more than a batch
        created_at(instance, runs, DAYS_AGO_40)
        job = build_definitions(AttroResource.from_settings(kit.settings())).resolve_job_def("prune_old_runs")

        result = job.execute_in_process(
            instance=instance, run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
        )

        assert result.success
        left = {run.run_id for run in instance.get_runs()}
        assert left == set(runs[-run_history.NEWEST_KEPT :]) | {result.run_id}
