"""What a process that runs the pipeline sets up once, each checked in a fresh process: dlt's anonymous
telemetry off (a merchant's runs never post to dlt's servers unless the environment turns it on),
OpenBLAS without spinning threads of its own, and the imported libraries' objects exempt from Python's
cyclic garbage collector."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# what a process shows after importing the pipeline's dlt code (the loader, the backfill, Dagster's)
TELEMETRY_PROBE = """
import pipelines.lib.loading, pipelines.stripe_backfill, pipelines.definitions
from dlt.common.runtime import anon_tracker
print(anon_tracker._ANON_TRACKER_ENDPOINT)
"""
# a Dagster run worker's imports (the definitions), then SciPy's and NumPy's OpenBLAS as the rules use them
WORKER_PROBE = """
import gc, os
import pipelines.definitions
import numpy, scipy.sparse.csgraph
print(len(os.listdir("/proc/self/task")), gc.get_freeze_count())
"""


def _fresh_process(probe: str, variable: str, value: str | None) -> str:
    """The last line `probe` prints in a new interpreter, with `variable` set to `value` (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != variable}
    if value is not None:
        env[variable] = value
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def _telemetry_endpoint(setting: str | None) -> str:
    return _fresh_process(TELEMETRY_PROBE, "RUNTIME__DLTHUB_TELEMETRY", setting)


def _worker(openblas_threads: str | None) -> tuple[int, int]:
    threads, frozen = _fresh_process(WORKER_PROBE, "OPENBLAS_NUM_THREADS", openblas_threads).split()
    return int(threads), int(frozen)


def test_dlt_telemetry_is_off_by_default() -> None:
    assert _telemetry_endpoint(None) == "None"


@pytest.mark.parametrize(("setting", "on"), [("false", False), ("true", True)])
def test_the_environment_still_decides(setting: str, on: bool) -> None:
    assert (_telemetry_endpoint(setting) != "None") is on


def test_openblas_starts_no_threads_unless_the_environment_asks_for_them() -> None:
    default_threads, _ = _worker(None)
    asked_threads, _ = _worker("2")

    assert asked_threads >= default_threads + 2  # NumPy's and SciPy's OpenBLAS: a second thread each


def test_a_run_worker_leaves_the_imported_libraries_to_reference_counting() -> None:
    _, frozen = _worker(None)

    assert frozen > 100_000  # Dagster's, dlt's, Polars' ... objects: no collection traverses them
