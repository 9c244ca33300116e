"""Run the whole pipeline once, in-process, step by step: what `attro run` and the demo do.

The steps are the functions the Dagster assets call (pipelines/steps.py), in the graph's order. A run
whose inputs are unchanged since the last published one (pipelines/freshness.py) does nothing. Any
crash is recovered by the next run: the lake ignores loads that never completed, staging catches
up on raw loads it has not decoded, and the next warehouse is built from scratch each time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

from core.program import Program, load_program
from core.settings import Settings
from pipelines import freshness, steps
from pipelines.lake import REBUILD_ADVICE, DamagedLakeFile
from pipelines.lib.warehouse import pipeline_lock


class PipelineFailed(RuntimeError):
    """A step of the run failed; `step` names it and `cause` says why, in one line."""

    def __init__(self, step: str, cause: str) -> None:
        super().__init__(f"{step} failed: {cause}")
        self.step, self.cause = step, cause


# Each stage as a failure names it (`attro run` and the Dagster assets alike).
STEP_NAMES = {
    "raw": "raw (loading the landing zone)",
    "staging": "staging (decoding new events)",
    "program": "program (program file tables)",
    "marts": "marts (the rules)",
    "warehouse": "warehouse (publishing)",
}


# What a failure before the first step names: the run lock and the inputs' fingerprint.
STARTING = "starting the run (its lock in data/build, the inputs)"


def root_cause(exc: BaseException) -> str:
    """The innermost cause of an exception, in one line: an OS error's own words when there is one
    (a full disk says "No space left on device", not the rollback that failed after it)."""
    chain: list[BaseException] = []
    node: BaseException | None = exc
    while node is not None and node not in chain:
        chain.append(node)
        # `raise X from None` says X is the whole story: its suppressed context is not the cause
        node = node.__cause__ or (None if node.__suppress_context__ else node.__context__)
    for error in chain:
        if isinstance(error, OSError) and error.strerror:
            where = f": {error.filename}" if error.filename else ""
            return f"{error.strerror}{where}"
    for error in reversed(chain):
        for marker in ("No space left on device", "Read-only file system", "Permission denied"):
            if marker in str(error):
                return marker
    # a StopIteration a generator was handling when the real error came is context, not the cause
    innermost = next(
        (e for e in reversed(chain) if not isinstance(e, StopIteration | GeneratorExit)), chain[-1]
    )
    text = str(innermost).strip().splitlines()
    said = f"{type(innermost).__name__}: {text[0]}" if text else type(innermost).__name__
    if isinstance(innermost, DamagedLakeFile):
        return text[0]
    reader = type(innermost).__module__.split(".")[0] in ("duckdb", "_duckdb", "pyarrow")
    if reader and ".parquet" in said and any(mark in said.lower() for mark in _DAMAGED):  # a lake file
        return f"{said}; {REBUILD_ADVICE}"
    return said


# How DuckDB and Arrow say a Parquet file is not one (truncated, overwritten).
_DAMAGED = (
    "magic bytes",
    "corrupt",
    "not a parquet file",
    "invalid parquet",
    "truncated",
    "too small to be a parquet",
)


def _marts(settings: Settings, program: Program, now: datetime, runs: list[str]) -> dict[str, dict[str, Any]]:
    built, metadata = steps.build_and_write_marts(settings, program, now, runs)
    if problems := steps.broken_invariants(built):  # the blocking checks of the Dagster job
        raise RuntimeError("; ".join(problems))
    return metadata


def run_pipeline(
    settings: Settings,
    now: datetime | None = None,
    *,
    force: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every step; returns each asset's metadata by asset path (and `skipped` when nothing changed).

    PipelineFailed names the step that failed and why; the program file is checked first. `on_wait` is
    told, once, when another run holds the pipeline and this one waits for it.
    """
    load_program(settings.program_path)  # a bad program file stops here, with its message, before any wait
    at = now or datetime.now(UTC)
    report: dict[str, Any] = {}
    with ExitStack() as held:
        try:  # a read-only or full build dir: one line, as any step's failure (not a traceback)
            held.enter_context(pipeline_lock(settings, on_wait=on_wait))
            inputs = freshness.fingerprint(settings, at)
        except OSError as exc:
            raise PipelineFailed(STARTING, root_cause(exc)) from exc
        if not force and freshness.unchanged(settings, inputs):
            return {"skipped": True}
        # Read after the fingerprint, under the lock: an edit made while this run waited is built now
        # (it was read before the wait, so the run built the old file and recorded the new one's
        # fingerprint: later runs said "nothing new"); one made from here on makes the next run rebuild.
        program = load_program(settings.program_path)
        runs = [f"attro-run-{uuid.uuid4().hex}"]

        def step(name: str, run: Callable[[], dict[str, dict[str, Any]]]) -> None:
            try:
                report.update(run())
            except Exception as exc:
                raise PipelineFailed(name, root_cause(exc)) from exc

        step(STEP_NAMES["raw"], lambda: steps.start_raw(settings, runs, inputs))
        step(STEP_NAMES["staging"], lambda: steps.stage(settings))
        step(STEP_NAMES["program"], lambda: steps.write_program(settings, program, at, runs))
        step(STEP_NAMES["marts"], lambda: _marts(settings, program, at, runs))
        step(STEP_NAMES["warehouse"], lambda: steps.publish_warehouse(settings, runs))  # records `inputs`
    return report
