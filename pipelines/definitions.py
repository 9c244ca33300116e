"""The Dagster code location: assets, checks, job, schedule, sensor and resources (a table of contents)."""

from __future__ import annotations

import dagster as dg

from core.heap import settle_imports
from core.settings import Settings
from pipelines.assets import ASSETS
from pipelines.checks import CHECKS
from pipelines.resources import AttroResource
from pipelines.schedules import (
    export_last_closed_period,
    hourly,
    materialize_all,
    monthly_export,
    prune_old_runs,
    prune_run_history,
    stripe_sync_daily,
    stripe_sync_job,
)
from pipelines.sensors import new_landing_files


def build_definitions(attro: AttroResource) -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=CHECKS,
        jobs=[materialize_all, export_last_closed_period, stripe_sync_job, prune_old_runs],
        schedules=[
            hourly,
            monthly_export,
            stripe_sync_daily(attro.has_stripe_api_key()),
            prune_run_history,
        ],
        sensors=[new_landing_files],
        resources={"attro": attro},
        # One process per run writes the build, and an ad-hoc "Materialize all" from the UI runs as
        # fast as the named job (the default executor would start a process per step).
        executor=dg.in_process_executor,
    )


defs = build_definitions(AttroResource.from_settings(Settings()))
settle_imports()  # a run worker has imported everything its run uses by now
