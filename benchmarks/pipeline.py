"""Pipeline benchmark: `attro run` (full rebuild, no change, +1 %) beside a hand-written DuckDB SQL baseline.

For each size: generate a merchant's landing data (simulator/traffic.py; cached per size and seed),
then, each in its own process with its wall time and peak RSS (wait4's ru_maxrss):
  baseline · baseline --keep-raw · attro full rebuild · baseline --keep-raw · baseline ·
  attro with no change · baseline ·
  (+1 % events landed for a new day) · baseline · attro +1 % · baseline
so every attro figure sits between two baseline runs over the same files (this machine's speed
drifts by up to 40 %), and its ratio is taken to their mean. The full rebuild also sits between two
runs of the baseline with --keep-raw (every landed record kept in Parquet first, as attro's raw
keeps it): a reference for what the design's source of truth costs, printed beside the targets.
The landing files are read once before the first run, so every run finds them in the page cache:
otherwise the first baseline alone paid for reading them from disk (1M events: 19.1 s against
8.3–9.6 s for the later runs), and the full rebuild's ratio looked better than it is. The baseline
(benchmarks/pipeline_baseline.py) has no incremental mode: with no change and after +1 % it reruns
its SQL over all files. Targets (issue 12, at 300k events): full ≤ 1.5× the baseline, no change ≤
0.05× and +1 % ≤ 0.1× attro's full rebuild, peak RSS ≤ 2 GB, and at 1M at most 1.3× the 300k peak.

    python -m benchmarks pipeline [--events 25000 [300000 ...]] [--seed 1] [--keep DIR] [--steps]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

from benchmarks.launch import launch

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "data" / "program.toml"
DEFAULT_EVENTS = 25_000
GB = 1024**3

FULL_RATIO_TARGET = 1.5  # × the baseline
NO_CHANGE_TARGET = 0.05  # × attro's full rebuild
INCREMENT_TARGET = 0.10  # × attro's full rebuild
RSS_TARGET = 2 * GB
RSS_GROWTH_TARGET = 1.3  # peak at 1M events / peak at 300k


@dataclass
class Measure:
    """One child process: wall seconds, peak resident memory (bytes), exit status, what it printed."""

    seconds: float
    peak_rss: int
    status: int
    output: str


def measure(command: list[str], env: dict[str, str] | None = None) -> Measure:
    """Run `command` to its end; its wall time and the peak RSS the kernel reports for it (wait4), from
    a small launcher process (benchmarks/launch.py: started from this one, a child would be charged
    this process's peak when that is higher)."""
    seconds, peak_rss, code, output = launch(command, env, ROOT)
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} exited {code}:\n{output[-3000:]}")
    return Measure(seconds, peak_rss, code, output)


# -- data ------------------------------------------------------------------------------------------


def _in_child(function: object, *args: object) -> dict[str, int]:
    """Run a generator in a fresh process, so its memory is returned before anything is measured."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()  # type: ignore[arg-type]


def cached(folder: Path, make: object, *args: object) -> dict[str, int]:
    """`make(*args, folder / "landing")` once: its summary is kept beside it, and a rerun reuses both."""
    summary_file = folder / "summary.json"
    if summary_file.exists():
        return json.loads(summary_file.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    summary = _in_child(make, *args, folder / "landing")
    summary_file.write_text(json.dumps(summary))
    return summary


def landing_data(cache: Path, events: int, seed: int) -> tuple[Path, dict[str, int], Path, dict[str, int]]:
    """(history, its summary, +1 % increment, its summary), generated or from the cache."""
    from simulator.traffic import Merchant, append_increment, generate

    merchant = Merchant(events=events, seed=seed)
    base, increment = cache / f"landing-{events}-s{seed}", cache / f"increment-{events}-s{seed}"
    started = time.perf_counter()
    fresh = not (base / "summary.json").exists()
    history = cached(base, generate, merchant)
    added = cached(increment, append_increment, merchant)
    if fresh:
        print(f"  generated in {time.perf_counter() - started:.1f} s (cached in {cache})", flush=True)
    return base / "landing", history, increment / "landing", added


def read_through(folder: Path) -> int:
    """Read every file under `folder` once (into the page cache); returns the bytes read."""
    total = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as fh:
                while chunk := fh.read(16 * 1024 * 1024):
                    total += len(chunk)
    return total


def link_tree(source: Path, target: Path) -> None:
    """Hard-link a landing tree into a data dir (nothing writes landing files, and it is instant)."""
    shutil.copytree(source, target, copy_function=os.link, dirs_exist_ok=True)


# -- runs ------------------------------------------------------------------------------------------


def attro_command() -> list[str]:
    script = Path(sys.executable).with_name("attro")
    return [str(script), "run"] if script.exists() else [sys.executable, "-m", "attro.cli", "run"]


def run_attro(data_dir: Path) -> Measure:
    env = os.environ | {"ATTRO_DATA_DIR": str(data_dir), "ATTRO_PROGRAM": str(data_dir / "program.toml")}
    return measure(attro_command(), env)


def run_baseline(data_dir: Path, out_dir: Path, keep_raw: bool = False) -> tuple[Measure, dict[str, int]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "benchmarks.pipeline_baseline",
        str(data_dir),
        str(out_dir / "baseline.duckdb"),
        *(["--keep-raw"] if keep_raw else []),
    ]
    result = measure(command)
    return result, json.loads(result.output.strip().splitlines()[-1])


def warehouse_counts(data_dir: Path) -> dict[str, int]:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        return {
            t: con.execute(f"select count(*) from marts.{t}").fetchone()[0]  # type: ignore[index]
            for t in ("payments", "conversions", "unattributed_payments")
        }


@dataclass
class Step:
    name: str
    attro: Measure
    before: Measure
    after: Measure

    @property
    def baseline_seconds(self) -> float:
        return statistics.mean([self.before.seconds, self.after.seconds])

    @property
    def baseline_rss(self) -> int:
        return max(self.before.peak_rss, self.after.peak_rss)


@dataclass
class Runs:
    steps: list[Step]  # full rebuild, no change, +1 %, each between two baseline runs
    keeping_raw: Step  # the full rebuild between two runs of the baseline with --keep-raw
    counts: dict[str, dict[str, int]]  # marts after +1 %: attro's and the baseline's


def run_steps(work: Path, landing: Path, increment: Path) -> Runs:
    """Baselines around each attro run: full rebuild, no change, +1 %."""
    data, out = work / "data", work / "baseline"
    shutil.rmtree(work, ignore_errors=True)
    data.mkdir(parents=True)
    shutil.copyfile(PROGRAM, data / "program.toml")
    link_tree(landing, data / "landing")
    steps: list[Step] = []
    read_through(data / "landing")  # every run reads cached files, the first baseline too
    b0, _ = run_baseline(data, out)
    r0, _ = run_baseline(data, out, keep_raw=True)
    full = run_attro(data)
    r1, _ = run_baseline(data, out, keep_raw=True)
    b1, _ = run_baseline(data, out)
    steps.append(Step("full rebuild", full, b0, b1))
    same = run_attro(data)
    b2, _ = run_baseline(data, out)
    steps.append(Step("no change", same, b1, b2))
    link_tree(increment, data / "landing")
    read_through(increment)
    b3, _ = run_baseline(data, out)
    more = run_attro(data)
    b4, counts = run_baseline(data, out)
    steps.append(Step("+1 % events", more, b3, b4))
    counts = {"attro": warehouse_counts(data), "baseline": counts}
    return Runs(steps, Step("full rebuild", full, r0, r1), counts)


# -- report ----------------------------------------------------------------------------------------


def _gb(n: int) -> str:
    return f"{n / GB:.2f} GB"


def _verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


def targets(step: Step, full: Step) -> str:
    rss = f"RSS ≤ 2 GB {_verdict(step.attro.peak_rss <= RSS_TARGET)}"
    if step is full:
        ratio = step.attro.seconds / step.baseline_seconds
        return f"≤ {FULL_RATIO_TARGET}× baseline {_verdict(ratio <= FULL_RATIO_TARGET)}; {rss}"
    share = step.attro.seconds / full.attro.seconds
    target = NO_CHANGE_TARGET if step.name == "no change" else INCREMENT_TARGET
    return f"{share:.3f}× full, ≤ {target}× {_verdict(share <= target)}; {rss}"


def report(events: int, history: dict[str, int], runs: Runs) -> None:
    steps, counts = runs.steps, runs.counts
    print(
        f"pipeline, {events:,} events asked: {history['events']:,} events in {history['event_lines']:,}"
        f" landed lines, {history['clicks']:,} clicks, {history['bytes'] / GB:.2f} GB of landing files"
    )
    columns = f"{'attro s':>9}{'baseline s':>12}{'ratio':>8}{'attro RSS':>11}{'base RSS':>10}"
    print(f"  {'step':<13}{columns}  targets")
    for step in steps:
        ratio = step.attro.seconds / step.baseline_seconds
        print(
            f"  {step.name:<13}{step.attro.seconds:>9.2f}{step.baseline_seconds:>12.2f}{ratio:>7.2f}x"
            f"{_gb(step.attro.peak_rss):>11}{_gb(step.baseline_rss):>10}  {targets(step, steps[0])}"
        )
    raw = runs.keeping_raw
    runs_s = f"{raw.baseline_seconds:.2f} s ({raw.before.seconds:.2f}, {raw.after.seconds:.2f})"
    print(
        "  reference (not a target): the baseline keeping every landed record in Parquet first"
        f" (--keep-raw) took\n  {runs_s} and {_gb(raw.baseline_rss)} beside the full rebuild:"
        f" {raw.attro.seconds / raw.baseline_seconds:.2f}× it"
    )
    spread = ", ".join(f"{s.before.seconds:.2f}" for s in steps) + f", {steps[-1].after.seconds:.2f}"
    print(f"  baseline runs (s, in order): {spread}; it has no incremental mode, so for no change and")
    print("  +1 % it reruns its SQL over all files (+1 % included); the landing files were read once before")
    print("  the first run, so every run found them in the page cache")
    a, b = counts["attro"], counts["baseline"]
    print(
        f"  results after +1 %: attro {a['payments']:,} payments, {a['conversions']:,} conversions;"
        f" baseline {b['payments']:,} payments, {b['conversions']:,} conversions"
    )
    print("  (the baseline takes a 60-day window and 20 % for every offer; attro the program's offers)")


def rss_growth(peaks: dict[int, int]) -> None:
    if 300_000 in peaks and 1_000_000 in peaks:
        growth = peaks[1_000_000] / peaks[300_000]
        print(
            f"peak RSS of a full rebuild, 1M vs 300k events: {growth:.2f}× (target ≤ {RSS_GROWTH_TARGET}×:"
            f" {_verdict(growth <= RSS_GROWTH_TARGET)})"
        )


def work_root(keep: Path | None) -> Path:
    """Where a benchmark keeps its runs: `--keep`, else one temporary dir shared by every benchmark, so
    they share the generated data cached in its `cache` dir."""
    return keep or Path(tempfile.gettempdir()) / "attro-bench-pipeline"


def remove_build(data_dir: Path) -> None:
    """What a full rebuild starts without: the lake, the build and the published warehouse (the
    landing files, the program file and data/state stay)."""
    for leftover in ("build", "lake", "warehouse.duckdb"):
        path = data_dir / leftover
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def time_steps(work: Path) -> None:
    """One more full rebuild (of history + 1 %), in-process with each step timed
    (benchmarks/pipeline_steps.py)."""
    data = work / "data"
    remove_build(data)
    result = measure(
        [sys.executable, "-m", "benchmarks.pipeline_steps", str(data), str(data / "program.toml")]
    )
    print(result.output.rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks pipeline", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--events", type=int, nargs="+", default=[DEFAULT_EVENTS], help="sizes to run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="cache generated data and keep the runs' data dirs here")
    parser.add_argument("--steps", action="store_true", help="also time each step of one more full rebuild")
    args = parser.parse_args(argv)
    root = work_root(args.keep)
    peaks: dict[int, int] = {}
    for events in args.events:
        print(f"== pipeline at {events:,} events ==", flush=True)
        landing, history, increment, _ = landing_data(root / "cache", events, args.seed)
        work = root / f"run-{events}-s{args.seed}"
        runs = run_steps(work, landing, increment)
        report(events, history, runs)
        peaks[events] = runs.steps[0].attro.peak_rss
        if args.steps:
            time_steps(work)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    rss_growth(peaks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
