"""Webhook load: signed Stripe webhooks over real HTTP vs the same server's no-op route, same run.

Starts the real receiver (uvicorn, one worker, uvloop + httptools) on a temporary data dir with the
no-op route switched on, and drives it from a small asyncio HTTP/1.1 keep-alive client in this
process (the load generator shares the machine's cores, as it would in the issue's target).

Figures, each printed beside its baseline (the no-op route, same concurrency or rate):
- closed loop, C connections: throughput, p50 and p99 latency, measured in R rounds of D seconds
  per route with the order alternating each round (webhooks first, then no-op first, ...), so the
  machine's speed drifting (seen here: the same no-op route at 3,000-5,500 req/s minutes apart)
  hits both; the ratio is the median of the per-round ratios;
- open loop at a fixed offered rate (1,000 requests/s): p50 and p99 measured from each request's
  scheduled send time, so a stalled server cannot hide its queueing (no coordinated omission).
Every 2xx webhook is checked afterwards to be in the landing zone (verified and durably landed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.heap import freeze_startup_heap
from core.settings import Settings
from simulator.launcher import ReceiverProcess
from simulator.stripe import sign_header

SECRET = "whsec_benchmark_0123456789abcdef"
WEBHOOK_PATH = "/api/webhooks/stripe"
NOOP_PATH = "/_bench/noop"
ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "tests" / "fixtures" / "stripe" / "real_signed_basil" / "body.json"
PROGRAM = ROOT / "data" / "program.toml"

TARGET_RATIO = 0.50
TARGET_P99_MS = 20.0


# -- requests -----------------------------------------------------------------------------------


class SignedRequests:
    """Raw HTTP requests carrying a real Stripe invoice event, each with a fresh id and signature."""

    def __init__(self, host: str) -> None:
        event = json.loads(TEMPLATE.read_text(encoding="utf-8"))
        event["id"] = "evt_@@ID@@"
        prefix, suffix = json.dumps(event, indent=2).encode().split(b"evt_@@ID@@")
        self._prefix, self._suffix = prefix + b"evt_bench", suffix
        self._host = host.encode()
        self._n = 0
        self.run_tag = os.urandom(4).hex().encode()

    def next(self, path: str) -> tuple[str, bytes]:
        """(event id, request bytes) for `path`; the body is identical for webhook and no-op."""
        self._n += 1
        event_id = b"%s%s%08d" % (self._prefix[-9:], self.run_tag, self._n)
        body = self._prefix + self.run_tag + b"%08d" % self._n + self._suffix
        signature = sign_header(body, SECRET).encode()
        head = (
            b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + self._host + b"\r\n"
            b"Content-Type: application/json\r\nStripe-Signature: "
            + signature
            + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        return event_id.decode(), head + body


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough parsing for the receiver's answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


# -- measurements -------------------------------------------------------------------------------


@dataclass
class Result:
    """Latencies (seconds) of the 2xx answers, the other statuses and the run's wall time."""

    latencies: list[float] = field(default_factory=list)
    failures: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0
    landed_ids: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _succeeded(status: int, ok: int | None) -> bool:
    """2xx, or exactly `ok` when given (a redirect's 302, a forgery's 400)."""
    return status == ok if ok is not None else 200 <= status < 300


async def closed_loop(
    host: str,
    port: int,
    make: Callable[[], tuple[str, bytes]],
    concurrency: int,
    seconds: float = float("inf"),
    *,
    stop: asyncio.Event | None = None,
    ok: int | None = None,
) -> Result:
    """`concurrency` connections, each sending its next request as soon as the last is answered,
    for `seconds` or until `stop` is set."""
    result = Result()
    connections = [await Connection.open(host, port) for _ in range(concurrency)]
    deadline = time.perf_counter() + seconds

    async def client(conn: Connection) -> None:
        while time.perf_counter() < deadline and not (stop is not None and stop.is_set()):
            event_id, request = make()
            started = time.perf_counter()
            status = await conn.send(request)
            if _succeeded(status, ok):
                result.latencies.append(time.perf_counter() - started)
                result.landed_ids.append(event_id)
            else:
                result.failures[status] = result.failures.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in connections))
    result.elapsed = time.perf_counter() - started
    for conn in connections:
        conn.close()
    return result


async def open_loop(
    host: str,
    port: int,
    make: Callable[[], tuple[str, bytes]],
    rate: float,
    seconds: float,
    ok: int | None = None,
) -> Result:
    """Requests sent on a fixed schedule (`rate` per second) whatever the answers' pace."""
    result = Result()
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(64):
        pool.put_nowait(await Connection.open(host, port))
    total = int(rate * seconds)
    requests = [make() for _ in range(total)]  # built up front: the schedule must not wait on us
    tasks: list[asyncio.Task[None]] = []

    async def one(scheduled: float, event_id: str, request: bytes) -> None:
        conn = await pool.get()
        try:
            status = await conn.send(request)
        finally:
            pool.put_nowait(conn)
        if _succeeded(status, ok):
            result.latencies.append(time.perf_counter() - scheduled)
            result.landed_ids.append(event_id)
        else:
            result.failures[status] = result.failures.get(status, 0) + 1

    start = time.perf_counter() + 0.05
    for i, (event_id, request) in enumerate(requests):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, event_id, request)))
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()
    return result


# -- the run ------------------------------------------------------------------------------------


def _landed_event_ids(settings: Settings) -> set[str]:
    ids: set[str] = set()
    for path in (settings.landing_dir / "stripe_events").glob("date=*/*.ndjson"):
        for line in path.read_bytes().split(b"\n"):
            if line:
                ids.add(json.loads(line)["event_id"])
    return ids


def _row(name: str, value: float, baseline: float, unit: str, note: str = "") -> str:
    ratio = value / baseline if baseline else float("nan")
    return f"  {name:<34} {value:>10.1f} {unit:<6} {baseline:>10.1f} {unit:<6} {ratio:>6.2f}  {note}"


@dataclass
class Rounds:
    """Closed-loop rounds of both routes, alternated so drift in the machine's speed hits both."""

    webhook: list[Result] = field(default_factory=list)
    noop: list[Result] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [w.throughput / n.throughput for w, n in zip(self.webhook, self.noop, strict=True)]

    @staticmethod
    def merged(results: list[Result]) -> Result:
        merged = Result(elapsed=sum(r.elapsed for r in results))
        for r in results:
            merged.latencies += r.latencies
            merged.landed_ids += r.landed_ids
            for status, n in r.failures.items():
                merged.failures[status] = merged.failures.get(status, 0) + n
        return merged


def run(concurrency: int, seconds: float, rounds: int, rate: float, rate_seconds: float) -> int:
    with tempfile.TemporaryDirectory(prefix="attro-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", program=PROGRAM)
        settings.data_dir.mkdir(parents=True)
        os.environ["ATTRO_BENCHMARK_NOOP_ROUTE"] = "true"
        with ReceiverProcess(settings=settings, secret=SECRET, token="bench-token") as receiver:
            host, port = "127.0.0.1", receiver.port
            signed = SignedRequests(f"{host}:{port}")

            def webhook() -> tuple[str, bytes]:
                return signed.next(WEBHOOK_PATH)

            def noop() -> tuple[str, bytes]:
                return signed.next(NOOP_PATH)

            print(f"receiver: uvicorn, 1 worker, pid {receiver.process.pid}; {os.cpu_count()} CPUs")
            print(
                f"warm-up, then {rounds} rounds of {seconds:g} s per route at {concurrency} connections "
                f"(order alternating each round); then {rate_seconds:g} s per route at {rate:.0f} req/s"
            )
            asyncio.run(closed_loop(host, port, webhook, concurrency, 1.0))
            asyncio.run(closed_loop(host, port, noop, concurrency, 1.0))
            # The load generator's own full collections (33-141 ms each here, a few a run) would count
            # as the server's latency in the open loop, which times each request from its schedule.
            freeze_startup_heap()
            measured = Rounds()
            for n in range(rounds):
                order = [("webhook", webhook), ("noop", noop)]
                for name, make in order if n % 2 == 0 else reversed(order):
                    getattr(measured, name).append(
                        asyncio.run(closed_loop(host, port, make, concurrency, seconds))
                    )
            hook_rate = asyncio.run(open_loop(host, port, webhook, rate, rate_seconds))
            base_rate = asyncio.run(open_loop(host, port, noop, rate, rate_seconds))

        landed = _landed_event_ids(settings)
        hook, base = Rounds.merged(measured.webhook), Rounds.merged(measured.noop)
        acknowledged = hook.landed_ids + hook_rate.landed_ids
        missing = [i for i in acknowledged if i not in landed]

    ratios = measured.ratios
    ratio = statistics.median(ratios)
    hook_tp = statistics.median(r.throughput for r in measured.webhook)
    base_tp = statistics.median(r.throughput for r in measured.noop)
    p99_at_rate = hook_rate.percentile_ms(0.99)
    print()
    print(f"  {'figure':<34} {'webhooks':>17} {'no-op baseline':>17} {'ratio':>6}")
    print(_row(f"throughput, {concurrency} conn. (median)", hook_tp, base_tp, "req/s"))
    print(_row("p50 latency", hook.percentile_ms(0.50), base.percentile_ms(0.50), "ms"))
    print(_row("p99 latency", hook.percentile_ms(0.99), base.percentile_ms(0.99), "ms"))
    print(
        _row(
            f"p50 latency at {rate:.0f} req/s",
            hook_rate.percentile_ms(0.5),
            base_rate.percentile_ms(0.5),
            "ms",
        )
    )
    print(_row(f"p99 latency at {rate:.0f} req/s", p99_at_rate, base_rate.percentile_ms(0.99), "ms"))
    print()
    print("  throughput ratio per round: " + ", ".join(f"{r:.2f}" for r in ratios))
    found = len(acknowledged) - len(missing)
    print(f"  webhooks answered 2xx: {len(acknowledged)}, found in the landing zone: {found}")
    for name, result in (
        ("webhooks", hook),
        ("no-op", base),
        ("webhooks@rate", hook_rate),
        ("no-op@rate", base_rate),
    ):
        if result.failures:
            print(f"  non-2xx answers ({name}): {result.failures}")
    verdict = {True: "met", False: "MISSED"}
    print()
    print(
        f"  target: webhook throughput >= {TARGET_RATIO:.0%} of no-op: median {ratio:.0%} "
        f"(rounds {min(ratios):.0%}-{max(ratios):.0%}), {verdict[ratio >= TARGET_RATIO]}"
    )
    print(
        f"  target: p99 < {TARGET_P99_MS:.0f} ms at {rate:.0f} req/s: {p99_at_rate:.1f} ms, "
        f"{verdict[p99_at_rate < TARGET_P99_MS]}"
    )
    if hook_tp:  # none answered: the failures above say why, and there is no share to give
        # the p99 at a fixed rate is mostly queueing once that rate nears what this machine can take
        print(
            f"  ({rate:.0f} req/s offered is {rate / hook_tp:.0%} of the webhook route's closed-loop"
            " throughput in this run: the nearer 100 %, the more of the p99 is queueing)"
        )
    if missing:
        print(f"  ERROR: {len(missing)} acknowledged webhooks are not in the landing zone")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks webhooks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=2.0, help="per route and round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--rate-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    return run(args.concurrency, args.seconds, args.rounds, args.rate, args.rate_seconds)
