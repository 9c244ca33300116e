"""Dagster sensors: start a run when new landing data appears."""

from __future__ import annotations

import dagster as dg

from pipelines.resources import AttroResource
from pipelines.schedules import materialize_all


def landing_signature(attro: AttroResource) -> str:
    """Changes whenever a landing file is added or grows."""
    landing = attro.settings.landing_dir
    files = sorted(landing.glob("*/date=*/*.ndjson")) if landing.exists() else []
    total = sum(path.stat().st_size for path in files)
    return f"{len(files)}:{total}"


@dg.sensor(
    job=materialize_all,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the whole graph when new events or clicks have landed.",
)
def new_landing_files(context: dg.SensorEvaluationContext, attro: AttroResource) -> dg.SensorResult:
    signature = landing_signature(attro)
    if signature == context.cursor or signature == "0:0":
        return dg.SensorResult(skip_reason="no new landing data", cursor=signature)
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=signature)], cursor=signature)
