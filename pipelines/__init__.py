"""Pipelines: dlt sources that load the landing zone and program file, and the Dagster definitions."""

import os

# dlt's anonymous telemetry is off unless the environment turns it on. dlt reads this when it is first
# imported (its runtime starts then), so it is set here, before any module of this package imports
# dlt; setting `dlt.config["runtime.dlthub_telemetry"]` after the import came too late, and every run
# posted its steps to telemetry.scalevector.ai.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

# dlt's own warnings (e.g. "column hints were different" when Stripe's objects and dlt's schema disagree
# on a hint, several per `attro stripe backfill` window) are about its internals: nothing a user can
# act on, and they buried the command's own output. Its errors still show; RUNTIME__LOG_LEVEL=WARNING
# brings the rest back. Read when dlt starts its runtime, like the telemetry switch.
os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")

# NumPy and SciPy each load an OpenBLAS that starts a thread per core and keeps it spinning for a while;
# nothing here multiplies matrices (SciPy only finds connected components), and on two cores the
# spinning threads took CPU from Polars: one thread each, unless the environment says otherwise (a
# 300k-event run: 0.4-1.0 s less CPU). Set before anything imports NumPy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
