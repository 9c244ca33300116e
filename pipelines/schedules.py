"""Dagster jobs and schedules: the whole graph hourly; the last closed month's export monthly; the Stripe
sync daily, once an API key is set; old finished runs deleted from Dagster's run history hourly."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.ops import prune_all_old_runs, sync_stripe_events
from pipelines.resources import AttroResource
from pipelines.run_history import prune_runs

materialize_all = dg.define_asset_job(
    "materialize_all",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(["exports", "last_closed_period"]),
    description="Load the landing zone and program file, rebuild every mart, publish the warehouse.",
    executor_def=dg.in_process_executor,  # one process writes the build database
)

# A materialize_all run in these states: a second one would only wait behind it.
BUSY = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.schedule(
    name="materialize_all_hourly",
    job=materialize_all,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The whole graph every hour (the day's holding periods turn lines approved), unless a run "
    "is already queued or running: it picks up everything landed before it started.",
)
def hourly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    # ops audit: the schedule queued a run behind one already queued or running, whatever the sensor did
    busy = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=materialize_all.name, statuses=BUSY), limit=1
    )
    if busy:
        return dg.SkipReason(f"run {busy[0].run_id} is queued or running")
    return dg.RunRequest()


export_last_closed_period = dg.define_asset_job(
    "export_last_closed_period",
    selection=dg.AssetSelection.assets(["exports", "last_closed_period"]),
    description="Write finance's export of the most recently closed month.",
    executor_def=dg.in_process_executor,
)

monthly_export = dg.ScheduleDefinition(
    name="export_last_closed_period_monthly",
    job=export_last_closed_period,
    cron_schedule="0 6 5 * *",  # the 5th, 06:00 UTC: after finance has usually closed last month
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.job(
    name="stripe_sync",
    description="Land the events the webhooks missed, read from Stripe's API (the new_landing_files sensor "
    "then loads them).",
    executor_def=dg.in_process_executor,
)
def stripe_sync_job() -> None:
    sync_stripe_events()


def stripe_sync_daily(api_key_set: bool) -> dg.ScheduleDefinition:
    """The daily sync: running by default once a Stripe API key is set, stopped before."""
    return dg.ScheduleDefinition(
        name="stripe_sync_daily",
        job=stripe_sync_job,
        cron_schedule="30 5 * * *",  # 05:30 UTC: a quiet hour, before the day's first reports
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING if api_key_set else dg.DefaultScheduleStatus.STOPPED,
    )


@dg.job(
    name="prune_old_runs",
    description="Delete every finished run older than ATTRO_DAGSTER_KEEP_RUNS_DAYS in one go: launch it "
    "by hand for a backlog (the prune_run_history schedule does it in its ticks, without a run).",
    executor_def=dg.in_process_executor,
)
def prune_old_runs() -> None:
    prune_all_old_runs()


# A tick is one gRPC call that Dagster cuts at 60 s; SQLite deletes 5-20 runs a second, so each hour's
# tick has about 60 of a sensor's runs to delete, and a backlog goes this long a tick.
PRUNE_BUDGET_SECONDS = 30


@dg.schedule(
    name="prune_run_history",
    job=prune_old_runs,  # never asked for: the tick deletes, so no run waits for the one run slot
    cron_schedule="40 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Deletes finished runs (success, failure, cancellation) older than "
    "ATTRO_DAGSTER_KEEP_RUNS_DAYS (30) with their event and captured logs, oldest first, up to "
    f"{PRUNE_BUDGET_SECONDS} s a tick. Keeps every unfinished run, each job's latest success and newest "
    "8 runs, and the runs of each asset's latest materialization.",
)
def prune_run_history(context: dg.ScheduleEvaluationContext, attro: AttroResource) -> dg.SkipReason:
    days = attro.settings.dagster_keep_runs_days
    started = time.monotonic()
    pruned = prune_runs(context.instance, datetime.now(UTC) - timedelta(days=days), PRUNE_BUDGET_SECONDS)
    return dg.SkipReason(f"{pruned} older than {days} days, in {time.monotonic() - started:.1f} s")
