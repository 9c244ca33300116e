"""Dagster jobs and schedules: the whole graph, hourly."""

from __future__ import annotations

import dagster as dg

materialize_all = dg.define_asset_job(
    "materialize_all",
    selection=dg.AssetSelection.all(),
    description="Load the landing zone and program file, rebuild every mart, publish the warehouse.",
    executor_def=dg.in_process_executor,  # one process writes the build database
)

hourly = dg.ScheduleDefinition(
    name="materialize_all_hourly",
    job=materialize_all,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
