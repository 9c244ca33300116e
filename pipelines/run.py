"""Run the whole asset graph once, in-process: the same job Dagster schedules (`attro run`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dagster as dg
from dagster_shared.error import SerializableErrorInfo

from core.program import load_program
from core.settings import Settings
from pipelines.definitions import build_definitions
from pipelines.resources import AttroResource


class PipelineFailed(RuntimeError):
    """A step of the run failed; the message names the step and the error."""


def _root_message(error: SerializableErrorInfo | None) -> str:
    """The innermost cause: Dagster wraps the asset's own exception."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip() if error is not None else "unknown error"


def run_pipeline(settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Materialize every asset; returns the metadata each asset reported, by asset path."""
    load_program(settings.program_path)  # a bad program file stops here, with its message
    defs = build_definitions(AttroResource.from_settings(settings, now))
    job = defs.resolve_job_def("materialize_all")
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    if not result.success:
        failures = [
            f"{event.step_key}: {_root_message(event.step_failure_data.error)}"
            for event in result.all_events
            if event.is_step_failure and event.step_failure_data
        ]
        raise PipelineFailed("pipeline run failed\n" + "\n".join(failures))
    report: dict[str, Any] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        report["/".join(materialization.asset_key.path)] = {
            key: value.value for key, value in materialization.metadata.items()
        }
    return report
