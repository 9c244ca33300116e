"""Freshness benchmark: from a webhook's 200 OK to its payment being visible to a read-only reader.

The default Dagster setup does the work: `dagster dev` (webserver + daemon, `dagster_home/dagster.yaml`:
queued runs, one at a time) with the sensor `new_landing_files` asking for `materialize_all`, over a
data dir holding a merchant's history (simulator/traffic.py, shared with the pipeline benchmark's
cache) already built once. A real receiver (uvicorn) takes signed one-time Checkout payments
(checkout.session.completed, payment_intent.succeeded, charge.succeeded) at a steady rate; the clock
of each starts at the 200 OK of its last webhook. A reader opens `warehouse.duckdb` read-only every
0.2 s, as an analyst's `duckdb -readonly` would, and notes when each charge's row appears in
marts.payments (and any error it meets: there must be none).

Baseline, same run, same data: one payment posted with nothing else running, then `attro run`
started at once by hand: the latency of a run with no waiting, which a sensor-driven setup adds to.
Target (issue 12): p95 ≤ 60 s at 300k events of history.

    python -m benchmarks freshness [--events 25000] [--minutes 3] [--rate 0.5] [--seed 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx

from benchmarks.pipeline import PROGRAM, ROOT, attro_command, landing_data, link_tree, measure, work_root
from core.settings import Settings
from simulator.launcher import ReceiverProcess, free_port
from simulator.stripe.flows import StripeSim
from simulator.stripe.signing import signed_request

DEFAULT_EVENTS = 25_000
TARGET_P95 = 60.0
POLL_SECONDS = 0.2


class Visibility:
    """Charges posted (with their 200 OK time) and when a read-only reader first saw each."""

    def __init__(self, warehouse: Path) -> None:
        self.warehouse = warehouse
        self.acknowledged: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self.errors: list[str] = []
        self.versions: set[tuple[int, int]] = set()  # (inode, mtime_ns) of each published file seen
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def posted(self, charge: str, at: float) -> None:
        with self.lock:
            self.acknowledged[charge] = at

    def pending(self) -> list[str]:
        with self.lock:
            return [c for c in self.acknowledged if c not in self.seen]

    def poll_once(self) -> None:
        waiting = self.pending()
        if not waiting:
            return
        try:
            stat = self.warehouse.stat()
            with duckdb.connect(str(self.warehouse), read_only=True) as con:
                rows = con.execute(
                    "select charge_id from marts.payments where charge_id in (select unnest(?))", [waiting]
                ).fetchall()
        except FileNotFoundError:
            return
        except duckdb.Error as exc:  # a lock error or a half-built table would show here
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return
        now = time.monotonic()
        self.versions.add((stat.st_ino, stat.st_mtime_ns))
        with self.lock:
            for (charge,) in rows:
                self.seen.setdefault(charge, now)

    def read_forever(self) -> None:
        while not self.stop.is_set():
            self.poll_once()
            time.sleep(POLL_SECONDS)

    def latencies(self) -> list[float]:
        with self.lock:
            return sorted(self.seen[c] - self.acknowledged[c] for c in self.seen)


def post_payment(client: httpx.Client, sim: StripeSim, url: str, secret: str, n: int) -> str:
    """One one-time Checkout payment, every webhook signed as Stripe signs; its charge id."""
    flow = sim.one_time_checkout(datetime.now(UTC), 1_000 + n, email=f"fresh{n}@example.com")
    for event in flow.events:
        body, headers = signed_request(event, secret)
        response = client.post(f"{url}/api/webhooks/stripe", content=body, headers=headers)
        response.raise_for_status()
    assert flow.charge is not None
    return flow.charge


def history_settings(work: Path, events: int, seed: int) -> tuple[Settings, dict[str, int]]:
    """A fresh data dir under `work` holding the cached history's landing files (hard links) and the
    program file, nothing built yet; its settings and the history's summary."""
    landing, history, _, _ = landing_data(work.parent / "cache", events, seed)
    data = work / "data"
    shutil.rmtree(work, ignore_errors=True)
    data.mkdir(parents=True)
    shutil.copyfile(PROGRAM, data / "program.toml")
    link_tree(landing, data / "landing")
    return Settings(data_dir=data, program=data / "program.toml"), history


def prepare(work: Path, events: int, seed: int) -> Settings:
    """A data dir with the cached history landed and built once by `attro run`."""
    settings, history = history_settings(work, events, seed)
    full = measure(attro_command(), _env(settings))
    print(
        f"  history: {history['events']:,} events, {history['clicks']:,} clicks; first full run"
        f" {full.seconds:.1f} s",
        flush=True,
    )
    return settings


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return os.environ | {
        "ATTRO_DATA_DIR": str(settings.data_dir),
        "ATTRO_PROGRAM": str(settings.program_path),
        **extra,
    }


def baseline(settings: Settings, receiver: ReceiverProcess, sim: StripeSim, secret: str) -> float:
    """200 OK → visible when `attro run` is started by hand the moment the webhook is acknowledged."""
    visibility = Visibility(settings.warehouse_path)
    with httpx.Client(timeout=10) as client:
        charge = post_payment(client, sim, receiver.url, secret, 0)
    visibility.posted(charge, time.monotonic())
    measure(attro_command(), _env(settings))
    visibility.poll_once()
    if charge not in visibility.seen:
        raise RuntimeError(f"attro run did not publish the charge {charge}")
    return visibility.latencies()[0]


class DagsterDev:
    """`dagster dev` as ops start it (`make dev`), with its own DAGSTER_HOME holding the project's
    dagster.yaml; stopped with SIGINT, as Ctrl-C would, so it ends its runs and the daemon."""

    def __init__(self, settings: Settings, home: Path) -> None:
        self.settings, self.home, self.port = settings, home, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DagsterDev:
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "dagster_home" / "dagster.yaml", self.home / "dagster.yaml")
        dagster = Path(sys.executable).with_name("dagster")
        log = (self.home / "dagster-dev.log").open("ab")
        self.process = subprocess.Popen(
            [str(dagster), "dev", "--port", str(self.port)],
            cwd=ROOT,
            env=_env(self.settings, DAGSTER_HOME=str(self.home)),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dagster dev exited; see {self.home / 'dagster-dev.log'}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/server_info", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError("dagster dev did not answer within 120 s")

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def runs(self) -> dict[str, int]:
        """Runs of this session by status, from the instance's run storage."""
        from dagster import DagsterInstance

        os.environ["DAGSTER_HOME"] = str(self.home)
        with DagsterInstance.get() as instance:
            counts: dict[str, int] = {}
            for run in instance.get_runs():
                counts[run.status.value] = counts.get(run.status.value, 0) + 1
            return counts


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks freshness", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="events of history")
    parser.add_argument("--minutes", type=float, default=3.0, help="how long webhooks are posted")
    parser.add_argument("--rate", type=float, default=0.5, help="payments per second (3 webhooks each)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="cache generated data and keep the run's files here")
    args = parser.parse_args(argv)
    root = work_root(args.keep)
    work = root / f"freshness-{args.events}-s{args.seed}"
    print(f"== freshness at {args.events:,} events of history ==", flush=True)
    settings = prepare(work, args.events, args.seed)
    secret = "whsec_" + secrets.token_hex(24)
    sim = StripeSim(seed=args.seed + 1000, livemode=True)
    visibility = Visibility(settings.warehouse_path)
    with ReceiverProcess(settings, secret) as receiver:
        floor = baseline(settings, receiver, sim, secret)
        with DagsterDev(settings, work / "dagster_home") as dagster:
            reader = threading.Thread(target=visibility.read_forever, daemon=True)
            reader.start()
            interval, count, started = 1 / args.rate, 0, time.monotonic()
            with httpx.Client(timeout=10) as client:
                while time.monotonic() - started < args.minutes * 60:
                    count += 1
                    charge = post_payment(client, sim, receiver.url, secret, count)
                    visibility.posted(charge, time.monotonic())
                    time.sleep(max(0.0, started + count * interval - time.monotonic()))
            deadline = time.monotonic() + 300
            while visibility.pending() and time.monotonic() < deadline:
                time.sleep(1)
            visibility.stop.set()
            reader.join()
            runs = dagster.runs()
    report(args, visibility, floor, count, runs)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if not visibility.pending() and not visibility.errors else 1


def report(
    args: argparse.Namespace, visibility: Visibility, floor: float, posted: int, runs: dict[str, int]
) -> None:
    latencies = visibility.latencies()
    missing = len(visibility.pending())
    print(
        f"  {posted} payments ({3 * posted} webhooks) posted over {args.minutes:g} min at {args.rate:g}/s;"
        f" {len(latencies)} seen, {missing} never seen; Dagster runs: {runs};"
        f" {len(visibility.versions)} published warehouses read"
    )
    if latencies:
        p50, p95 = percentile(latencies, 0.50), percentile(latencies, 0.95)
        verdict = "pass" if p95 <= TARGET_P95 and not missing else "MISS"
        print(
            f"  200 OK → visible read-only: p50 {p50:.1f} s, p95 {p95:.1f} s, max {latencies[-1]:.1f} s"
            f" (target p95 ≤ {TARGET_P95:.0f} s: {verdict})"
        )
    print(f"  baseline, attro run started by hand at the 200 OK: {floor:.1f} s")
    print(f"  reader errors (lock or half-built table): {len(visibility.errors)}")
    for error in visibility.errors[:5]:
        print(f"    {error}")


if __name__ == "__main__":
    sys.exit(main())
