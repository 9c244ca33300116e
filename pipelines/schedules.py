"""Dagster jobs and schedules: the whole graph hourly; the last closed month's export monthly."""

from __future__ import annotations

import dagster as dg

materialize_all = dg.define_asset_job(
    "materialize_all",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(["exports", "last_closed_period"]),
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
