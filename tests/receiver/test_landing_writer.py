"""The landing writer: file layout, group commit, durability before acknowledgement, recovery."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import socket
import stat
import time
from datetime import UTC, datetime

import pytest

from receiver import landing
from receiver.landing import LandingError, LandingWriter, dumps_record


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


def test_concurrent_appends_share_fsyncs_and_each_returns_only_once_on_disk(writer, monkeypatch):
    real_fsync = os.fsync
    file_fsyncs: list[int] = []
    synced_size = {"bytes": 0}

    def slow_fsync(fd: int) -> None:
        time.sleep(0.005)  # a real disk's flush, so requests pile up behind it
        real_fsync(fd)
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            file_fsyncs.append(fd)
            synced_size["bytes"] = info.st_size

    monkeypatch.setattr(os, "fsync", slow_fsync)
    count = 200

    async def one(n: int) -> None:
        await writer.append([{"n": n, "pad": "x" * 50}])
        line = dumps_record({"n": n, "pad": "x" * 50}).encode()
        content = writer.current_path.read_bytes()
        assert content.index(line) + len(line) <= synced_size["bytes"]

    async def main() -> None:
        await asyncio.gather(*(one(n) for n in range(count)))

    asyncio.run(main())

    lines = writer.current_path.read_text().splitlines()
    assert sorted(json.loads(line)["n"] for line in lines) == list(range(count))
    assert 1 <= len(file_fsyncs) <= 10


def test_one_append_is_one_contiguous_write(writer, monkeypatch):
    real_write = os.write
    writes: list[bytes] = []

    def recording_write(fd, data):
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", recording_write)
    append(writer, [{"n": n} for n in range(5)])

    assert writes == [b"".join(dumps_record({"n": n}).encode() for n in range(5))]


def test_failed_write_raises_and_leaves_no_torn_line_before_later_records(writer, monkeypatch):
    append(writer, [{"n": 1}])
    first_file = writer.current_path
    real_write = os.write
    calls = {"n": 0}

    def torn_write(fd, data):
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))  # half a line reaches the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", torn_write)
    with pytest.raises(LandingError, match="No space left"):
        append(writer, [{"n": 2, "text": "a record long enough to be cut in half"}])
    monkeypatch.setattr(os, "write", real_write)
    append(writer, [{"n": 3}])

    assert first_file.read_bytes() == b'{"n":1}\n'  # the torn half was cut off again
    assert writer.current_path != first_file  # and writing went on in a fresh file
    assert writer.current_path.read_bytes() == b'{"n":3}\n'


def test_failed_fsync_raises_and_the_writer_recovers(writer, monkeypatch):
    real_fsync = os.fsync

    def failing_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(LandingError):
        append(writer, [{"n": 1}])
    monkeypatch.setattr(os, "fsync", real_fsync)
    append(writer, [{"n": 2}])

    assert writer.current_path.read_bytes() == b'{"n":2}\n'


def test_missing_permission_to_create_the_folder_raises_then_recovers(tmp_path):
    landing_dir = tmp_path / "landing"
    landing_dir.mkdir()
    (landing_dir / "clicks").write_text("not a folder")
    writer = LandingWriter(landing_dir, "clicks")
    try:
        assert not writer.writable()
        with pytest.raises(LandingError):
            append(writer, [{"n": 1}])
        (landing_dir / "clicks").unlink()
        assert writer.writable()
        append(writer, [{"n": 2}])
        assert writer.current_path.read_bytes() == b'{"n":2}\n'
    finally:
        writer.close()


def test_a_new_file_starts_at_midnight_utc(writer, monkeypatch):
    clock = {"now": datetime(2026, 11, 27, 23, 59, 59, tzinfo=UTC)}

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return clock["now"]

    monkeypatch.setattr(landing, "datetime", FrozenDatetime)
    append(writer, [{"n": 1}])
    before = writer.current_path
    clock["now"] = datetime(2026, 11, 28, 0, 0, 1, tzinfo=UTC)
    append(writer, [{"n": 2}])

    assert before.parent.name == "date=2026-11-27"
    assert writer.current_path.parent.name == "date=2026-11-28"
    assert before.read_bytes() == b'{"n":1}\n'
    assert writer.current_path.read_bytes() == b'{"n":2}\n'


def test_append_after_close_raises(tmp_path):
    writer = LandingWriter(tmp_path / "landing", "clicks")
    writer.close()

    with pytest.raises(LandingError, match="closed"):
        append(writer, [{"n": 1}])


def test_writable_probe_leaves_nothing_behind(writer, tmp_path):
    assert writer.writable()
    assert writer.check_writable() is None
    assert list((tmp_path / "landing" / "clicks").iterdir()) == []


def test_unicode_line_separators_are_escaped_so_every_record_stays_one_line():
    record = {"text": "a\u2028b\u2029c\x85d é"}

    line = dumps_record(record)

    assert line.count("\n") == 1
    assert len(line.splitlines()) == 1
    assert "é" in line
    assert json.loads(line) == record
