"""Dagster sensors: a run when the landing zone changes, never more than one waiting or running."""

from __future__ import annotations

import dagster as dg

from pipelines.freshness import landing_signature
from pipelines.resources import AttroResource
from pipelines.schedules import materialize_all

_BUSY = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.sensor(
    job=materialize_all,
    minimum_interval_seconds=10,  # a look is a stat of the landing files; part of freshness
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the whole graph when landing files appear or change (name, size, mtime or ctime: "
    "any rewrite, even to the same size); one run at a time, and a run picks up everything landed before "
    "it started.",
)
def new_landing_files(context: dg.SensorEvaluationContext, attro: AttroResource) -> dg.SensorResult:
    signature = landing_signature(attro.settings)
    if not signature or signature == context.cursor:
        return dg.SensorResult(skip_reason="no new landing data", cursor=signature or context.cursor)
    busy = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=materialize_all.name, statuses=_BUSY), limit=1
    )
    if busy:
        # Leave the cursor: the next evaluation after that run asks again, and that run may already
        # have loaded these lines (a run reads everything landed before it starts).
        return dg.SensorResult(skip_reason=f"run {busy[0].run_id} is queued or running")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=signature)], cursor=signature)
