"""Tracking-link redirects while the webhook route is flooded with big forged bodies, same run.

A visitor following a tracking link must not wait because somebody posts large junk to the public
webhook route. Starts the real receiver (uvicorn, one worker) and sends `GET /r/<code>` on a fixed
schedule (open loop, latency from each request's scheduled time), first alone (the baseline), then
while `--flood` connections post forged webhooks of `--body-kib` KiB (valid JSON, wrong signature:
each is read whole and verified before it is refused with 400).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.webhook_load import PROGRAM, SECRET, WEBHOOK_PATH, Result, closed_loop, open_loop
from core.heap import freeze_startup_heap
from core.settings import Settings
from simulator.launcher import ReceiverProcess

LINK_CODE = "jane-pro"
BROWSER = b"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605.1.15"


def redirect_request(host: str) -> tuple[str, bytes]:
    request = (
        b"GET /r/" + LINK_CODE.encode() + b"?utm_source=bench HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
        b"User-Agent: " + BROWSER + b"\r\n\r\n"
    )
    return "", request


def forged_webhook(host: str, body_kib: int) -> bytes:
    """A Stripe-shaped event of about `body_kib` KiB signed with a secret the receiver doesn't have."""
    event = {"id": "evt_forged", "object": "event", "type": "invoice.paid", "created": int(time.time())}
    event["data"] = {"object": {"object": "invoice", "description": "x" * (body_kib * 1024)}}
    body = json.dumps(event).encode()
    return (
        b"POST " + WEBHOOK_PATH.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
        b"Content-Type: application/json\r\nStripe-Signature: t=%d,v1=%s\r\n"
        % (int(time.time()), b"0" * 64)
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


async def redirects_during_flood(
    host: str, port: int, rate: float, seconds: float, forged: bytes, connections: int
) -> tuple[Result, Result]:
    stop = asyncio.Event()
    # Every forged webhook must be refused with 400; any other answer is counted as a failure.
    flooding = asyncio.create_task(
        closed_loop(host, port, lambda: ("", forged), connections, stop=stop, ok=400)
    )
    await asyncio.sleep(0.5)  # the flood is running before the first redirect is scheduled
    redirects = await open_loop(host, port, lambda: redirect_request(f"{host}:{port}"), rate, seconds, ok=302)
    stop.set()
    return redirects, await flooding


def run(rate: float, seconds: float, connections: int, body_kib: int) -> int:
    with tempfile.TemporaryDirectory(prefix="attro-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", program=PROGRAM)
        settings.data_dir.mkdir(parents=True)
        with ReceiverProcess(settings=settings, secret=SECRET, token="bench-token") as receiver:
            host, port = "127.0.0.1", receiver.port
            print(f"receiver: uvicorn, 1 worker, pid {receiver.process.pid}; {os.cpu_count()} CPUs")
            print(
                f"GET /r/{LINK_CODE} at {rate:.0f} req/s for {seconds:g} s: alone, then while {connections} "
                f"connections post forged {body_kib} KiB webhooks"
            )
            redirect = lambda: redirect_request(f"{host}:{port}")  # noqa: E731
            asyncio.run(open_loop(host, port, redirect, rate, 1.0, ok=302))  # warm-up
            freeze_startup_heap()  # the client's own full collections are not the server's latency
            alone = asyncio.run(open_loop(host, port, redirect, rate, seconds, ok=302))
            forged = forged_webhook(f"{host}:{port}", body_kib)
            during, flooded = asyncio.run(
                redirects_during_flood(host, port, rate, seconds, forged, connections)
            )

    print()
    print(f"  {'figure':<34} {'during flood':>17} {'alone (baseline)':>17} {'ratio':>6}")
    for name, q in (("redirect p50", 0.5), ("redirect p99", 0.99)):
        value, baseline = during.percentile_ms(q), alone.percentile_ms(q)
        print(f"  {name:<34} {value:>10.1f} ms     {baseline:>10.1f} ms     {value / baseline:>6.2f}")
    print()
    mib_s = flooded.throughput * len(forged) / 2**20
    print(
        f"  forged webhooks refused: {len(flooded.latencies)} ({flooded.throughput:.0f}/s, {mib_s:.0f} MiB/s)"
    )
    problems = {"redirects alone": alone, "redirects during flood": during, "flood": flooded}
    failed = False
    for name, result in problems.items():
        if result.failures:
            print(f"  ERROR: unexpected answers ({name}): {result.failures}")
            failed = True
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks redirects", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rate", type=float, default=200.0, help="redirects per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--flood", type=int, default=4, help="connections posting forged webhooks")
    parser.add_argument("--body-kib", type=int, default=512)
    args = parser.parse_args(argv)
    return run(args.rate, args.seconds, args.flood, args.body_kib)
