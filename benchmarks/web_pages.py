"""Web page speed: each admin and portal page's latency (p50, p95, max) over a published warehouse,
beside the same server's login form (a template and no query) as the same-run baseline.

`attro web` runs as its own process (simulator/launcher.py:WebProcess) over a data dir that links
the benchmark's published warehouse, landing zone and build record (read only; the web's signing key
goes into the benchmark's own state/). One client signs in as the admin and as an affiliate, loads
every page once to warm up, then requests the pages in turn for `--rounds` rounds. Target (issue 17):
every page under 200 ms at p95 with the 300k-event benchmark data published.

    python -m benchmarks web [--data DIR | --events 25000 [--keep DIR]] [--rounds 30]

`--data` takes any data dir with a published warehouse, e.g. one `python -m benchmarks pipeline
--events 300000 --keep DIR` left in DIR/run-300000-s1/data.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import httpx

from core.heap import freeze_startup_heap
from core.settings import Settings
from simulator.launcher import WebProcess
from web.keys import signing_key
from web.passwords import hash_password
from web.portal_links import make_token

TARGET_P95_MS = 200.0
PASSWORD = "benchmark password, long enough"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def pages(data: Path) -> tuple[list[str], str]:
    """The pages measured: every main page, a filtered and a deep page, the portal of the busiest
    affiliate."""
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        months = [
            m
            for (m,) in con.sql(
                "select distinct period from marts.affiliate_statements order by 1"
            ).fetchall()
        ]
        busiest = "select affiliate_id from marts.conversions group by 1 order by count(*) desc limit 1"
        affiliate = con.execute(busiest).fetchall()[0][0]
    finally:
        con.close()
    month = months[len(months) // 2] if months else "2026-01"
    return [
        "/admin/conversions",
        f"/admin/conversions?affiliate={affiliate}&month={month}&status=approved",
        "/admin/conversions?page=40",
        "/admin/unattributed",
        "/admin/unattributed?reason=click_expired",
        "/admin/review",
        "/admin/affiliates",
        f"/admin/statements?period={month}",
        "/admin/health",
        "/portal",
        "/portal/conversions",
        "/portal/conversions?page=40",
        "/portal/clicks",
    ], affiliate


def view_of(data: Path, root: Path) -> Settings:
    """A data dir linking `data`'s published files, so nothing is written into it."""
    view = root / "data"
    view.mkdir(parents=True)
    for name in ("warehouse.duckdb", "landing", "build", "program.toml"):
        if (data / name).exists():
            os.symlink(data / name, view / name)
    program = data / "program.toml"
    return Settings(
        data_dir=view, program=program if program.exists() else Path("data/program.toml").absolute()
    )


def signed_in(client: httpx.Client, settings: Settings, affiliate: str) -> None:
    token = CSRF.search(client.get("/admin/login").text).group(1)  # type: ignore[union-attr]
    answer = client.post("/admin/login", data={"password": PASSWORD, "csrf_token": token})
    assert answer.status_code in (200, 303), answer.text
    link = make_token(signing_key(settings), affiliate, days=1)
    assert client.get("/portal/login", params={"token": link}).status_code == 200


def measure(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:200]}")
    return elapsed


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def generated_data(events: int, keep: Path | None) -> Path:
    """A published warehouse over `events` generated events (generated and run once, then cached)."""
    from benchmarks.pipeline import landing_data, link_tree, run_attro, work_root

    root = work_root(keep)
    data = root / f"web-{events}-s1" / "data"
    if not (data / "warehouse.duckdb").exists():
        landing, _history, _increment, _ = landing_data(root / "cache", events, 1)
        data.mkdir(parents=True, exist_ok=True)
        (data / "program.toml").write_bytes(
            (Path(__file__).resolve().parents[1] / "data/program.toml").read_bytes()
        )
        link_tree(landing, data / "landing")
        print(f"  running attro over {events:,} events…", flush=True)
        result = run_attro(data)
        if result.status != 0:
            raise RuntimeError(result.output[-2000:])
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks web")
    parser.add_argument("--data", type=Path, help="a data dir with a published warehouse")
    parser.add_argument("--events", type=int, default=25_000, help="generate this much data (no --data)")
    parser.add_argument("--keep", type=Path, help="cache generated data here")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    data = args.data.absolute() if args.data else generated_data(args.events, args.keep)
    measured, affiliate = pages(data)
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    sizes = dict(
        con.sql(
            "select 'conversions', count(*) from marts.conversions union all select 'clicks', count(*)"
            " from marts.clicks union all select 'lines', count(*) from marts.commission_lines"
        ).fetchall()
    )
    con.close()
    print(
        f"web pages over {data}: {sizes['conversions']:,} conversions, {sizes['lines']:,} ledger lines,"
        f" {sizes['clicks']:,} clicks; portal of {affiliate}; {args.rounds} rounds; load average"
        f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="attro-bench-web-") as tmp:
        settings = view_of(data, Path(tmp))
        env = {"ATTRO_ADMIN_PASSWORD": hash_password(PASSWORD)}
        with WebProcess(settings, env=env) as web, httpx.Client(base_url=web.url, timeout=30) as client:
            signed_in(client, settings, affiliate)
            baseline = "/admin/login"
            timings: dict[str, list[float]] = {path: [] for path in [baseline, *measured]}
            for path in timings:  # warm up: the first request opens the snapshot, fills the memo
                measure(client, path)
            freeze_startup_heap()  # the client's own full collections are not the server's latency
            for _ in range(args.rounds):
                for path in timings:
                    timings[path].append(measure(client, path))
    base_p95 = p95(timings[baseline])
    print(f"{'page':<72} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'p95/baseline':>12}")
    worst = 0.0
    for path, values in timings.items():
        page_p95 = p95(values)
        if path != baseline:
            worst = max(worst, page_p95)
        label = f"{path} (baseline: a form, no query)" if path == baseline else path
        print(
            f"{label:<72} {statistics.median(values):>7.1f} {page_p95:>7.1f} {max(values):>7.1f}"
            f" {page_p95 / base_p95:>11.1f}×"
        )
    verdict = "met" if worst < TARGET_P95_MS else "NOT met"
    print(f"slowest page p95 {worst:.1f} ms: target < {TARGET_P95_MS:.0f} ms {verdict}")
    return 0
