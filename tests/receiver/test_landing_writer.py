"""The landing writers: records and Stripe deliveries reach the file only via the landing process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import time
from datetime import UTC, datetime

import pytest

from core.landing_records import dumps_record
from receiver.landing import LandedEvent, LandingError, LandingWriter, StripeEventWriter
from receiver.signature import WebhookRejected
from receiver.stripe_events import Delivery
from simulator.stripe import encode, sign_header


@pytest.fixture
def writer(tmp_path):
    w = LandingWriter(tmp_path / "landing", "clicks")
    yield w
    w.close()


def append(writer: LandingWriter, records: list[dict]) -> None:
    asyncio.run(writer.append(records))


def test_records_land_as_compact_utf8_lines_in_this_process_file_for_the_utc_date(writer, tmp_path):
    append(writer, [{"n": 1, "name": "Zoë"}, {"n": 2}])
    append(writer, [{"n": 3}])

    path = writer.current_path
    assert path is not None
    today = datetime.now(UTC).date().isoformat()
    assert path.parent == tmp_path / "landing" / "clicks" / f"date={today}"
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())
    assert re.fullmatch(rf"{re.escape(host)}-{os.getpid()}-[0-9a-f]{{8}}\.ndjson", path.name)
    assert path.read_bytes() == '{"n":1,"name":"Zoë"}\n{"n":2}\n{"n":3}\n'.encode()


def test_empty_append_writes_nothing(writer):
    append(writer, [])

    assert writer.current_path is None
    assert writer.commits == 0


def test_concurrent_appends_share_commits_and_each_returns_only_once_written(writer):
    count = 200

    async def one(n: int) -> None:
        await writer.append([{"n": n, "pad": "x" * 50}])
        assert dumps_record({"n": n, "pad": "x" * 50}).encode() in writer.current_path.read_bytes()

    async def main() -> None:
        await asyncio.gather(*(one(n) for n in range(count)))

    asyncio.run(main())

    lines = writer.current_path.read_text().splitlines()
    assert sorted(json.loads(line)["n"] for line in lines) == list(range(count))
    assert 1 <= writer.commits <= 10  # one event-loop turn queued them all: a few fsyncs, not 200


def test_one_append_stays_contiguous_among_concurrent_ones(writer):
    async def main() -> None:
        await asyncio.gather(*(writer.append([{"a": a, "i": i} for i in range(20)]) for a in range(30)))

    asyncio.run(main())

    appends = [json.loads(line)["a"] for line in writer.current_path.read_text().splitlines()]
    runs = [a for n, a in enumerate(appends) if n == 0 or appends[n - 1] != a]
    assert sorted(runs) == list(range(30))  # each append's 20 records form one unbroken run


def _blocked(tmp_path, stream: str):
    """A landing folder whose `stream` folder is taken by a regular file."""
    landing_dir = tmp_path / "landing"
    landing_dir.mkdir()
    (landing_dir / stream).write_text("not a folder")
    return landing_dir


def test_a_failed_commit_raises_and_the_writer_recovers(tmp_path):
    landing_dir = _blocked(tmp_path, "clicks")
    writer = LandingWriter(landing_dir, "clicks")
    try:
        assert writer.check_writable() is not None
        with pytest.raises(LandingError, match="could not land clicks records"):
            append(writer, [{"n": 1}])
        (landing_dir / "clicks").unlink()
        assert writer.check_writable() is None
        append(writer, [{"n": 2}])
        assert writer.current_path.read_bytes() == b'{"n":2}\n'
    finally:
        writer.close()


def test_appends_in_flight_when_the_landing_process_dies_fail_and_a_new_one_takes_over(writer):
    append(writer, [{"n": 1}])
    first_pid = writer._process.pid
    first_file = writer.current_path

    async def main() -> None:
        os.kill(first_pid, signal.SIGSTOP)  # it receives nothing from here on
        pending = asyncio.ensure_future(writer.append([{"n": 2}]))
        await asyncio.sleep(0.2)
        assert not pending.done()  # not acknowledged, so not answered
        os.kill(first_pid, signal.SIGKILL)
        with pytest.raises(LandingError, match="stopped"):
            await pending
        await writer.append([{"n": 3}])

    asyncio.run(main())

    assert writer._process.pid != first_pid
    assert writer.check_writable() is None
    assert first_file.read_bytes() == b'{"n":1}\n'
    assert writer.current_path.read_bytes() == b'{"n":3}\n'


def test_close_commits_what_was_sent_and_stops_the_landing_process(tmp_path):
    writer = LandingWriter(tmp_path / "landing", "clicks")
    append(writer, [{"n": 1}])
    process = writer._process

    writer.close()

    assert process.returncode == 0
    assert writer.current_path.read_bytes() == b'{"n":1}\n'
    assert writer.check_writable() == "landing writer for 'clicks' is closed"


def test_append_after_close_raises(tmp_path):
    writer = LandingWriter(tmp_path / "landing", "clicks")
    writer.close()

    with pytest.raises(LandingError, match="closed"):
        append(writer, [{"n": 1}])


def test_a_record_that_is_not_json_is_refused_before_anything_is_sent(writer):
    with pytest.raises(LandingError, match="not JSON-serialisable"):
        append(writer, [{"n": object()}])

    assert writer.commits == 0


def test_writable_probe_leaves_nothing_behind(writer, tmp_path):
    assert writer.check_writable() is None
    assert list((tmp_path / "landing" / "clicks").iterdir()) == []


# -- Stripe deliveries ------------------------------------------------------------------------------

SECRET = "whsec_writer_test"


def _delivery(event_id: str, secret: str = SECRET) -> Delivery:
    event = {"id": event_id, "object": "event", "type": "invoice.paid", "created": 1_760_000_000}
    body = encode({**event, "data": {"object": {"object": "invoice"}}})
    now = time.time()
    return Delivery(body, sign_header(body, secret, int(now)), ["whsec_old", SECRET], 300, now)


@pytest.fixture
def event_writer(tmp_path):
    w = StripeEventWriter(tmp_path / "landing", "stripe_events")
    yield w
    w.close()


def test_concurrent_deliveries_are_verified_and_landed_each_answered_for_itself(event_writer):
    async def one(n: int) -> object:
        secret = SECRET if n % 10 else "whsec_forger"
        try:
            return await event_writer.land(_delivery(f"evt_{n:03d}", secret))
        except WebhookRejected as exc:
            return exc.reason

    async def main() -> list[object]:
        return await asyncio.gather(*(one(n) for n in range(100)))

    outcomes = asyncio.run(main())

    for n, outcome in enumerate(outcomes):
        if n % 10:
            assert outcome == LandedEvent(f"evt_{n:03d}", "invoice.paid", event_writer.current_path)
        else:
            assert outcome == "no signature matches a configured webhook secret"
    landed = [json.loads(line) for line in event_writer.current_path.read_bytes().splitlines()]
    assert sorted(record["event_id"] for record in landed) == [f"evt_{n:03d}" for n in range(100) if n % 10]
    assert all(json.loads(record["payload"])["id"] == record["event_id"] for record in landed)


def test_a_delivery_that_cannot_be_stored_fails_and_the_writer_recovers(tmp_path):
    landing_dir = _blocked(tmp_path, "stripe_events")
    writer = StripeEventWriter(landing_dir, "stripe_events")
    try:
        with pytest.raises(LandingError, match="could not land a stripe_events event"):
            asyncio.run(writer.land(_delivery("evt_1")))
        (landing_dir / "stripe_events").unlink()
        assert asyncio.run(writer.land(_delivery("evt_2"))).event_id == "evt_2"
    finally:
        writer.close()


def test_a_delivery_larger_than_the_socket_buffer_is_sent_in_parts_and_lands_whole(event_writer):
    event = {"id": "evt_big", "object": "event", "type": "invoice.paid", "created": 1_760_000_000}
    body = encode({**event, "data": {"object": {"object": "invoice", "description": "é" * 450_000}}})
    now = time.time()
    delivery = Delivery(body, sign_header(body, SECRET, int(now)), [SECRET], 300, now)
    assert len(body) > 4 * event_writer._sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)

    async def main() -> list[LandedEvent]:
        return await asyncio.gather(event_writer.land(delivery), event_writer.land(_delivery("evt_small")))

    big, small = asyncio.run(main())

    assert (big.event_id, small.event_id) == ("evt_big", "evt_small")
    first, second = event_writer.current_path.read_bytes().splitlines()
    assert json.loads(first)["payload"].encode() == body
    assert json.loads(second)["event_id"] == "evt_small"


def test_health_probes_whose_delete_fails_leave_one_probe_file_not_one_per_check(writer, monkeypatch):
    real_unlink = type(writer.stream_dir).unlink

    def refusing_unlink(path, missing_ok=False):
        if path.name.startswith(".probe-"):
            raise PermissionError(13, "Permission denied")
        return real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(type(writer.stream_dir), "unlink", refusing_unlink)
    for _ in range(5):
        writer.check_writable()

    assert len(list(writer.stream_dir.glob(".probe-*"))) == 1
