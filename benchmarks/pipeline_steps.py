"""Where `attro run` spends its time: the pipeline run in-process with each step and its parts timed.

Wraps the functions `pipelines.run` reaches (the steps, what they call, the rules chain of
models.marts) with timers, runs `run_pipeline` once with force, and prints wall time, calls and the
process's peak RSS after each, nested as they were called. Run by `python -m benchmarks pipeline --steps`
on an emptied build (a full rebuild); on a built data dir it times an incremental run.

    python -m benchmarks.pipeline_steps DATA_DIR PROGRAM
"""

from __future__ import annotations

import functools
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

# (module, function names) to time; a name is looked up in that module when it runs, so wrapping it
# there catches every call the pipeline makes.
TIMED = {
    "pipelines.freshness": ("fingerprint",),
    "pipelines.steps": (
        "begin_run",
        "load_raw",
        "stage",
        "write_program",
        "build_and_write_marts",
        "publish_warehouse",
        "load_landing",
        "stage_new",
        "mart_inputs",
        "build_marts",
        "write_tables",
        "add_lake_views",
        "publish",
        "maintain_lake",
    ),
    "pipelines.lib.loading": ("loaded_offsets",),
    "pipelines.sources.landing": ("torn_lines",),
    "pipelines.sources.landing.helpers": ("_read_chunk", "_typed"),
    "pipelines.staging.stage": ("_stage_in_one_pass", "_decode"),
    "models.marts": (
        "delivered_first",
        "objects_where",
        "clicks_and_landed_again",
        "capture_releases",
        "payment_observations",
        "build_payments",
        "build_adjustments",
        "build_leads",
        "attribute",
        "evaluate_conversions",
        "risk_flags",
        "build_ledger",
        "affiliate_statements",
        "funnel_daily",
    ),
}


class Timings:
    """Seconds and calls per call path; the stack of what is running now."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.totals: dict[tuple[str, ...], list[float]] = {}  # path → [seconds, calls, peak RSS]

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.stack.append(name)
            path = tuple(self.stack)
            entry = self.totals.setdefault(path, [0.0, 0, 0])
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                entry[0] += time.perf_counter() - started
                entry[1] += 1
                entry[2] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
                self.stack.pop()

        return timed

    def install(self, modules: dict[str, tuple[str, ...]]) -> None:
        import importlib

        for module_name, names in modules.items():
            module: ModuleType = importlib.import_module(module_name)
            for name in names:
                setattr(module, name, self.wrap(name, getattr(module, name)))

    def lines(self, total: float) -> list[str]:
        out = []
        for path, (seconds, calls, rss) in self.totals.items():
            indent = "  " * (len(path) - 1)
            label = f"{indent}{path[-1]}" + (f" ×{calls}" if calls > 1 else "")
            share = 100 * seconds / total if total else 0.0
            out.append(
                f"  {label:<44}{seconds:>9.2f} s{share:>6.1f} %   peak RSS so far {rss / 2**30:.2f} GB"
            )
        return out


def _wrap_methods(timings: Timings) -> None:
    """Methods, wrapped on their class: dlt's pipeline stages (our landing reader runs inside extract)
    and `_Fresh.__call__` (dropping keys a completed load holds)."""
    import dlt

    from pipelines.lib import loading

    for stage in ("extract", "normalize", "load"):
        setattr(dlt.Pipeline, stage, timings.wrap(f"dlt {stage}", getattr(dlt.Pipeline, stage)))
    loading._Fresh.__call__ = timings.wrap("_Fresh (drop loaded keys)", loading._Fresh.__call__)  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    from datetime import UTC, datetime

    timings = Timings()
    timings.install(TIMED)
    _wrap_methods(timings)
    from core.settings import Settings
    from pipelines.run import run_pipeline

    settings = Settings(data_dir=Path(argv[0]), program=Path(argv[1]))
    started = time.perf_counter()
    run_pipeline(settings, datetime.now(UTC), force=True)
    total = time.perf_counter() - started
    print(f"attro run in-process (forced), each step timed ({settings.data_dir}): {total:.1f} s")
    print("\n".join(timings.lines(total)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
