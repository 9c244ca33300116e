"""Runs made outside Dagster (`attro run`, `attro close-period`, the demo), recorded in the Dagster instance
at $DAGSTER_HOME: its asset catalog then shows when each asset was last built, with the run's metadata.

`attro run` runs the steps directly (pipelines/run.py) to stay fast; Dagster is imported here only when
DAGSTER_HOME is set, so a plain run never loads it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


class NotRecorded(RuntimeError):
    """The Dagster instance did not take the events; the message says why, in one line."""


def dagster_home() -> str | None:
    """The Dagster instance a run is recorded in, or None: no DAGSTER_HOME, nothing recorded."""
    return os.environ.get("DAGSTER_HOME") or None


def record_materializations(report: Mapping[str, Any], source: str) -> int:
    """One runless AssetMaterialization per asset path of a run report (pipelines/run.py), with that
    asset's metadata; returns how many were recorded (none for a skipped run)."""
    import dagster as dg  # only here: recording is the one thing that needs it

    events = [
        dg.AssetMaterialization(
            asset_key=path.split("/"), metadata=dict(values), description=f"{source} (outside Dagster)"
        )
        for path, values in report.items()
        if isinstance(values, Mapping)  # not the `skipped` flag
    ]
    if not events:
        return 0
    try:
        with dg.DagsterInstance.get() as instance:
            for event in events:
                instance.report_runless_asset_event(event)
    except Exception as exc:  # Dagster's own errors are many; the run itself succeeded either way
        raise NotRecorded(
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        ) from exc
    return len(events)
