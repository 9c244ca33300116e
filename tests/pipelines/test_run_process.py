"""What a process that runs the pipeline sets up once: OpenBLAS without spinning threads of its own,
and the imported libraries' objects exempt from Python's cyclic garbage collector."""

from __future__ import annotations

import os
import subprocess
import sys

# a Dagster run worker's imports (the definitions), then SciPy's and NumPy's OpenBLAS as the rules use them
PROBE = """
import gc, os
import pipelines.definitions
import numpy, scipy.sparse.csgraph
print(len(os.listdir("/proc/self/task")), gc.get_freeze_count())
"""


def _probe(openblas_threads: str | None) -> tuple[int, int]:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if openblas_threads is not None:
        env["OPENBLAS_NUM_THREADS"] = openblas_threads
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    threads, frozen = done.stdout.strip().splitlines()[-1].split()
    return int(threads), int(frozen)


def test_openblas_starts_no_threads_unless_the_environment_asks_for_them() -> None:
    default_threads, _ = _probe(None)
    asked_threads, _ = _probe("2")

    assert asked_threads >= default_threads + 2  # NumPy's and SciPy's OpenBLAS: a second thread each


def test_a_run_worker_leaves_the_imported_libraries_to_reference_counting() -> None:
    _, frozen = _probe(None)

    assert frozen > 100_000  # Dagster's, dlt's, Polars' ... objects: no collection traverses them
