"""Tell Dagster about the CLI's pipeline runs when DAGSTER_HOME is set, in one line (a warning if it fails:
the run itself is done and published either way)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from core.heap import settled_imports
from pipelines.dagster_events import NotRecorded, dagster_home, record_materializations


def record_in_dagster(report: Mapping[str, Any], source: str) -> None:
    """Record a run's materializations in $DAGSTER_HOME's instance; nothing without DAGSTER_HOME."""
    home = dagster_home()
    if home is None:
        return
    try:
        # Dagster's imports (its own, then its SQLite storages' as the instance opens) with the collector
        # off, and settled: the interpreter's exit then does not walk them
        with settled_imports():
            count = record_materializations(report, source)
    except NotRecorded as exc:
        print(f"warning: the run is not recorded in Dagster (DAGSTER_HOME={home}): {exc}", file=sys.stderr)
        return
    if count:
        print(f"recorded {count} asset materializations in Dagster (DAGSTER_HOME={home})")
