"""Pipelines: dlt sources that load the landing zone and program file, and the Dagster definitions."""

import os

# dlt's anonymous telemetry is off unless the environment turns it on. dlt reads this when it is first
# imported (its runtime starts then), so it is set here, before any module of this package imports
# dlt; setting `dlt.config["runtime.dlthub_telemetry"]` after the import came too late, and every run
# posted its steps to telemetry.scalevector.ai.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
