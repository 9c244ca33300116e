"""Dagster sensors: a run when the landing zone, the program file or the state a run reads changes, never
more than one waiting or running, and again after a failed run (with a growing wait) until one succeeds."""

from __future__ import annotations

import time

import dagster as dg

from pipelines.freshness import hand_edit, inputs_signature
from pipelines.resources import AttroResource
from pipelines.run_history import NEWEST_KEPT
from pipelines.schedules import BUSY, materialize_all

_FAILED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
RETRY_FIRST_SECONDS = 60  # after a failed run, ask again this long after it ended, then twice as long
RETRY_MAX_SECONDS = 3600  # ... up to an hour between tries (the hourly schedule's pace)


@dg.sensor(
    job=materialize_all,
    minimum_interval_seconds=10,  # a look is a stat of the landing files; part of freshness
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the whole graph when landing files appear or change (name, size, mtime or ctime: "
    "any rewrite, even to the same size), or the program file or data/state/ (a closed month, a review "
    "decision, a hand edit of the offer terms) changes; one run at a time, and a run picks up everything "
    "landed before it started. After a failed run it asks again, 1 minute after the failure, then 2, "
    "4 … up to 60.",
)
def new_landing_files(context: dg.SensorEvaluationContext, attro: AttroResource) -> dg.SensorResult:
    inputs = inputs_signature(attro.settings)
    if not inputs:
        return dg.SensorResult(skip_reason="no landing data yet", cursor=context.cursor)
    edit = hand_edit(attro.settings)
    signature = f"{inputs}:{edit}"
    busy = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=materialize_all.name, statuses=BUSY), limit=1
    )
    if busy:
        # Leave the cursor: the next evaluation after that run asks again, and that run may already
        # have loaded these lines (a run reads everything landed before it starts).
        return dg.SensorResult(skip_reason=f"run {busy[0].run_id} is queued or running")
    seen_inputs, _, seen_edit = (context.cursor or "").partition(":")
    # A hand edit of the offer terms or code owners asks once: the run it asks for records them (the
    # edit is "" again, asking nothing); one a failed run left is retried as any failure is.
    edited = bool(edit) and edit != seen_edit and not _last_run_failed(context)
    if inputs != seen_inputs or edited:
        # The key is unique per request: inputs put back as they were (a program edit undone) give an
        # earlier signature again, and Dagster skips a request whose run key it has seen.
        request = dg.RunRequest(run_key=f"{signature}:{time.time_ns()}")
        return dg.SensorResult(run_requests=[request], cursor=signature)
    return _retry_after_a_failure(context, signature)


def _last_run_failed(context: dg.SensorEvaluationContext) -> bool:
    last = context.instance.get_run_records(filters=dg.RunsFilter(job_name=materialize_all.name), limit=1)
    return bool(last) and last[0].dagster_run.status in _FAILED


def _retry_after_a_failure(context: dg.SensorEvaluationContext, signature: str) -> dg.SensorResult:
    """Nothing landed since the last request; but if the last run failed, what it was asked to load is
    not published yet: ask again, waiting longer after each failure in a row."""
    # the newest runs, which pruning the run history always keeps
    recent = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=materialize_all.name), limit=NEWEST_KEPT
    )
    failures = 0
    for record in recent:  # newest first
        if record.dagster_run.status not in _FAILED:
            break
        failures += 1
    if failures == 0:
        return dg.SensorResult(skip_reason="no new landing data", cursor=signature)
    last = recent[0]
    ended = last.end_time or last.update_timestamp.timestamp()
    wait = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (failures - 1))
    if time.time() < ended + wait:
        return dg.SensorResult(
            skip_reason=f"run {last.dagster_run.run_id} failed ({failures} in a row): asking again"
            f" {wait // 60} min after it ended",
            cursor=signature,
        )
    request = dg.RunRequest(run_key=f"{signature}:after:{last.dagster_run.run_id}")
    return dg.SensorResult(run_requests=[request], cursor=signature)
