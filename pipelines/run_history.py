"""Dagster's run history pruned: finished runs older than ATTRO_DAGSTER_KEEP_RUNS_DAYS deleted with their
event logs and captured logs (Dagster OSS keeps every run for ever: ~0.5 MB a run, a run a minute)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import dagster as dg

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
UNFINISHED = [status for status in dg.DagsterRunStatus if status not in FINISHED]
BATCH = 100  # runs read and deleted at a time, oldest first
# A job's newest runs, kept whatever their age: the landing sensor reads this many to count failures in a
# row (pipelines/sensors.py), so pruning never changes what it decides.
NEWEST_KEPT = 8


@dataclass(frozen=True)
class Pruned:
    """What one pruning did: runs deleted, and whether older finished runs are left for the next one."""

    deleted: int
    more: bool

    def __str__(self) -> str:
        left = ": more are left, the next tick goes on" if self.more else ""
        return f"deleted {self.deleted} finished run{'s' if self.deleted != 1 else ''}{left}"


def prune_runs(
    instance: dg.DagsterInstance,
    created_before: datetime,
    budget_seconds: float,
    batch: int = BATCH,
    clock: Callable[[], float] = time.monotonic,
) -> Pruned:
    """Delete runs that finished (success, failure, cancellation) and were created before
    `created_before`, oldest first, batch by batch until none is left or `budget_seconds` are spent.

    Kept whatever their age: every run not finished yet, each job's latest successful run and newest
    NEWEST_KEPT runs, the run of each asset's latest materialization and observation (the asset
    catalog's "last materialized"), and the runs an unfinished run re-executes."""
    deadline = clock() + budget_seconds
    kept = _always_kept(instance)
    seen_jobs: set[str] = set()
    deleted = 0
    while True:
        records = instance.get_run_records(
            filters=dg.RunsFilter(statuses=FINISHED, created_before=created_before),
            limit=batch + len(kept),  # the kept ones come back every time: room for a whole batch besides
            ascending=True,
        )
        new_jobs = {record.dagster_run.job_name for record in records} - seen_jobs
        if new_jobs:  # their kept runs first, then the batch read again with room for them
            for job in new_jobs:
                kept |= _kept_for_job(instance, job)
            seen_jobs |= new_jobs
            continue
        doomed = [r.dagster_run.run_id for r in records if r.dagster_run.run_id not in kept][:batch]
        if not doomed:
            return Pruned(deleted, more=False)
        for run_id in doomed:
            if clock() >= deadline:
                return Pruned(deleted, more=True)
            delete_run(instance, run_id)
            deleted += 1


def delete_run(instance: dg.DagsterInstance, run_id: str) -> None:
    """A run, its events and its captured stdout/stderr. On SQLite event storage (the default) a run's
    events live in a file of their own, history/runs/<run_id>.db, which Dagster empties but leaves."""
    # imported here: it brings sqlite3 and alembic, which no run needs (the run launcher's preload)
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    storage = instance.event_log_storage
    shard = storage.path_for_shard(run_id) if isinstance(storage, SqliteEventLogStorage) else None
    # Dagster checks a run's file's schema (alembic) before it deletes its rows: two thirds of the
    # time, spent on a file about to go. Marked checked, it is not (a Dagster without that set: slower).
    initialized = getattr(storage, "_initialized_dbs", None)
    if shard is not None and isinstance(initialized, set) and os.path.exists(shard):
        initialized.add(run_id)
    instance.delete_run(run_id)
    instance.compute_log_manager.delete_logs(prefix=[run_id])
    if shard is not None:
        for path in (shard, shard + "-wal", shard + "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        if isinstance(initialized, set):  # a later read of this run opens a new file, tables created
            initialized.discard(run_id)


def _always_kept(instance: dg.DagsterInstance) -> set[str]:
    unfinished = instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED))
    lineage = {r for run in unfinished for r in (run.parent_run_id, run.root_run_id) if r}
    return lineage | _latest_asset_runs(instance)


def _latest_asset_runs(instance: dg.DagsterInstance) -> set[str]:
    runs: set[str] = set()
    for record in instance.get_asset_records():
        for event in (record.asset_entry.last_materialization, record.asset_entry.last_observation):
            if event is not None and event.run_id:  # a runless one (`attro run`) has none
                runs.add(event.run_id)
    return runs


def _kept_for_job(instance: dg.DagsterInstance, job: str) -> set[str]:
    newest = instance.get_runs(filters=dg.RunsFilter(job_name=job), limit=NEWEST_KEPT)
    success = instance.get_runs(
        filters=dg.RunsFilter(job_name=job, statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1
    )
    return {run.run_id for run in [*newest, *success]}
