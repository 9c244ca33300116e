"""Durability with real receiver processes: kill -9 mid-flood, an unwritable landing zone, many writers."""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import time
from collections import Counter
from pathlib import Path

import duckdb
import httpx
import pytest

from core.settings import Settings
from pipelines.run import run_pipeline
from simulator.launcher import ReceiverProcess

pytestmark = pytest.mark.e2e

SENDERS = 8


@pytest.fixture
def servers():
    started: list[ReceiverProcess] = []

    def make(settings: Settings, secret: str, workers: int = 1) -> ReceiverProcess:
        env = {"ATTRO_IP_HASH_SALT": "durability-salt"}
        server = ReceiverProcess(settings, secret, workers=workers, env=env, startup_seconds=20).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def _event(kit, event_id: str) -> bytes:
    event = kit.stripe_event(
        event_id,
        type="customer.updated",
        data={"object": {"id": f"cus_{event_id[-10:]}", "object": "customer", "note": "é \u2028 ok"}},
    )
    return json.dumps(event).encode()


async def _flood(kit, urls: list[str], prefix: str, count: int, stop_after: float | None = None) -> dict:
    """`count` distinct signed events from SENDERS concurrent senders; which got 2xx, which other."""
    acked: list[str] = []
    answers: Counter[int | str] = Counter()
    ids = iter(f"evt_{prefix}_{n:06d}" for n in range(count))
    deadline = None if stop_after is None else time.monotonic() + stop_after

    async def sender(client: httpx.AsyncClient, url: str) -> None:
        for event_id in ids:
            if deadline is not None and time.monotonic() > deadline:
                return
            body = _event(kit, event_id)
            try:
                response = await client.post(
                    f"{url}/api/webhooks/stripe", content=body, headers={"Stripe-Signature": kit.sign(body)}
                )
            except httpx.TransportError:
                answers["transport_error"] += 1
                return  # the server is gone (killed): this sender's flood is over
            answers[response.status_code] += 1
            if 200 <= response.status_code < 300:
                acked.append(event_id)

    limits = httpx.Limits(max_connections=SENDERS, max_keepalive_connections=SENDERS)
    async with httpx.AsyncClient(timeout=5, limits=limits) as client:
        await asyncio.gather(*(sender(client, urls[i % len(urls)]) for i in range(SENDERS)))
    return {"acked": acked, "answers": answers}


def _landed_lines(settings: Settings) -> tuple[list[dict], list[bytes]]:
    """(parsed records, torn or corrupt lines) across every stripe_events file."""
    records, bad = [], []
    for path in sorted((settings.landing_dir / "stripe_events").glob("date=*/*.ndjson")):
        data = path.read_bytes()
        lines = data.split(b"\n")
        for n, line in enumerate(lines):
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                bad.append(line if n == len(lines) - 1 else b"MIDFILE:" + line)
    return records, bad


def _process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (Linux /proc)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += _process_tree(int(child))
    return found


def _running(pid: int) -> bool:
    """True while `pid` runs (an exited process waiting to be reaped, a zombie, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _raw_event_counts(settings: Settings) -> Counter[str]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        rows = con.execute("select event_id, count(*) from raw.stripe_events group by 1").fetchall()
    finally:
        con.close()
    return Counter(dict(rows))


def test_kill_9_mid_flood_loses_no_acknowledged_event_and_duplicates_none(settings, servers, kit):
    """Three floods, each cut by SIGKILL at a random moment; every 2xx ends up in raw exactly once."""
    settings.data_dir.mkdir(parents=True)
    rng = random.Random(5)
    acked: list[str] = []
    answers: Counter[int | str] = Counter()
    for cycle in range(3):
        server = servers(settings, kit.SECRET)

        assert server.process is not None
        landers = _process_tree(server.process.pid)[1:]

        async def flood_and_kill(server: ReceiverProcess = server, cycle: int = cycle) -> dict:
            flood = asyncio.create_task(_flood(kit, [server.url], f"c{cycle}", 3000, stop_after=5))
            await asyncio.sleep(rng.uniform(1.5, 2.5))
            server.kill()
            return await flood

        result = asyncio.run(flood_and_kill())
        # The landing processes notice their receiver is gone, commit what they hold and exit.
        deadline = time.monotonic() + 10
        while any(map(_running, landers)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(landers) == 2 and not any(map(_running, landers))
        acked += result["acked"]
        answers += result["answers"]
        if cycle == 0:
            # A power cut, unlike kill -9, can leave half a record at a file's end: a reader must
            # skip it. Forge one in the dead process's file, then let a pipeline run meet it.
            newest = max(
                (settings.landing_dir / "stripe_events").glob("date=*/*.ndjson"), key=os.path.getmtime
            )
            with newest.open("ab") as fh:
                fh.write(b'{"event_id":"evt_torn","event_type":"customer.upd')

    print(f"kill -9 floods: {len(acked)} acknowledged, answers {dict(answers)}")
    assert len(acked) > 300, answers  # the floods really ran before each kill
    assert answers["transport_error"] > 0  # and really were cut mid-flight
    records, bad = _landed_lines(settings)
    assert bad == [b'{"event_id":"evt_torn","event_type":"customer.upd']  # only the forged tail
    landed = Counter(r["event_id"] for r in records)
    assert all(landed[event_id] == 1 for event_id in acked)

    run_pipeline(settings)

    in_raw = _raw_event_counts(settings)
    missing = [e for e in acked if in_raw[e] != 1]
    assert missing == []
    assert set(in_raw) == set(landed)  # nothing unverified or torn was loaded
    assert max(in_raw.values()) == 1


def test_full_or_unwritable_landing_answers_503_and_recovers_without_restart(settings, servers, kit):
    settings.data_dir.mkdir(parents=True)
    server = servers(settings, kit.SECRET)
    client = httpx.Client(base_url=server.url, timeout=5)

    def post(event_id: str) -> int:
        body = _event(kit, event_id)
        return client.post(
            "/api/webhooks/stripe", content=body, headers={"Stripe-Signature": kit.sign(body)}
        ).status_code

    assert post("evt_before") == 200
    assert server.process is not None

    # Disk full: root ignores permissions and quotas, but not the file-size limit, which makes
    # every write fail with EFBIG as ENOSPC would. Python ignores SIGXFSZ, so the write just fails.
    # The limit goes on the receiver and its landing processes alike, as a full disk would.
    tree = _process_tree(server.process.pid)
    assert len(tree) == 3  # the receiver and one landing process per stream
    soft, hard = resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE)
    for pid in tree:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, hard))
    full = [post(f"evt_full_{n}") for n in range(5)]
    full_health = client.get("/healthz")
    for pid in tree:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
    after_full = post("evt_after_full")

    # Read-only / gone: the landing folder replaced by a regular file under the running writer.
    moved = settings.data_dir / "landing-away"
    settings.landing_dir.rename(moved)
    settings.landing_dir.write_text("not a folder")
    gone = [post(f"evt_gone_{n}") for n in range(3)]
    gone_health = client.get("/healthz")
    settings.landing_dir.unlink()
    moved.rename(settings.landing_dir)
    after_gone = post("evt_after_gone")
    client.close()

    assert full == [503] * 5
    assert full_health.status_code == 503
    assert "$ATTRO_DATA_DIR/landing/stripe_events is not writable" in full_health.json()["detail"]
    assert after_full == 200
    assert gone == [503] * 3
    assert gone_health.status_code == 503
    assert after_gone == 200
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    records, bad = _landed_lines(settings)
    assert bad == []
    assert sorted(r["event_id"] for r in records) == ["evt_after_full", "evt_after_gone", "evt_before"]


def test_healthz_reports_a_disk_that_takes_a_probe_but_not_the_next_event(settings, servers, kit):
    # A nearly full disk: a few bytes still fit, a webhook does not. The file-size limit makes any
    # write past 8 KiB fail, as ENOSPC would; a tiny probe file fits under it, an event does not.
    settings.data_dir.mkdir(parents=True)
    server = servers(settings, kit.SECRET)
    client = httpx.Client(base_url=server.url, timeout=5)

    def post(event_id: str) -> int:
        event = kit.stripe_event(
            event_id,
            type="customer.updated",
            data={
                "object": {
                    "id": "cus_big",
                    "object": "customer",
                    "metadata": {"note": "x" * 450} | {f"k{n}": "v" * 450 for n in range(20)},
                }
            },
        )
        body = json.dumps(event).encode()
        return client.post(
            "/api/webhooks/stripe", content=body, headers={"Stripe-Signature": kit.sign(body)}
        ).status_code

    assert server.process is not None
    tree = _process_tree(server.process.pid)
    soft, hard = resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE)
    for pid in tree:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (8192, hard))
    before = client.get("/healthz").status_code  # nothing has failed yet: a tiny probe fits
    nearly_full = [post(f"evt_big_{n}") for n in range(3)]
    health = client.get("/healthz")
    for pid in tree:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
    recovered = client.get("/healthz")  # space is back: the probe of the failed size fits now
    after = post("evt_big_after")
    client.close()

    assert before == 200
    assert nearly_full == [503] * 3
    assert health.status_code == 503
    detail = health.json()["detail"]
    assert "$ATTRO_DATA_DIR/landing/stripe_events is not writable" in detail
    assert "the size of the last write, which failed" in detail
    assert recovered.status_code == 200, recovered.json()
    assert after == 200


def test_several_receiver_processes_share_the_landing_zone_without_interleaving(settings, servers, kit):
    settings.data_dir.mkdir(parents=True)
    workers = servers(settings, kit.SECRET, workers=2)  # uvicorn --workers 2
    single = servers(settings, kit.SECRET)  # and another `serve` on the same data dir

    result = asyncio.run(_flood(kit, [workers.url, single.url], "multi", 600))
    workers.stop()
    single.stop()

    assert result["answers"] == Counter({200: 600})
    records, bad = _landed_lines(settings)
    assert bad == []
    assert sorted(r["event_id"] for r in records) == sorted(result["acked"])
    assert all(json.loads(r["payload"])["id"] == r["event_id"] for r in records)
    files = list((settings.landing_dir / "stripe_events").glob("date=*/*.ndjson"))
    writers = {Path(f).name.rsplit("-", 1)[0] for f in files}  # <host>-<pid>
    assert len(writers) >= 2
