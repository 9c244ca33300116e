"""Landing files: layout, one write per commit, cut-back of torn writes, rotation."""

from __future__ import annotations

import errno
import os
from datetime import UTC, datetime

import pytest

from core import landing_file
from core.landing_file import LandingFiles, file_prefix


@pytest.fixture
def files(tmp_path):
    f = LandingFiles(tmp_path / "landing", "clicks", file_prefix(4242))
    yield f
    f.close()


def test_commits_append_to_one_file_per_utc_date_named_after_host_and_pid(files, tmp_path):
    first = files.commit(b'{"n":1}\n')
    second = files.commit(b'{"n":2}\n')

    today = datetime.now(UTC).date().isoformat()
    assert first == second == files.current_path
    assert first.parent == tmp_path / "landing" / "clicks" / f"date={today}"
    assert first.name.startswith(file_prefix(4242) + "-") and first.suffix == ".ndjson"
    assert first.read_bytes() == b'{"n":1}\n{"n":2}\n'


def test_one_commit_is_one_contiguous_write(files, monkeypatch):
    real_write = os.write
    writes: list[bytes] = []

    def recording_write(fd, data):
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", recording_write)
    files.commit(b'{"n":0}\n{"n":1}\n')

    assert writes == [b'{"n":0}\n{"n":1}\n']


def test_failed_write_raises_and_leaves_no_torn_line_before_later_records(files, monkeypatch):
    first_file = files.commit(b'{"n":1}\n')
    real_write = os.write
    calls = {"n": 0}

    def torn_write(fd, data):
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))  # half a line reaches the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", torn_write)
    with pytest.raises(OSError, match="No space left"):
        files.commit(b'{"n":2,"text":"a record long enough to be cut in half"}\n')
    monkeypatch.setattr(os, "write", real_write)
    assert files.current_path is None
    later = files.commit(b'{"n":3}\n')

    assert first_file.read_bytes() == b'{"n":1}\n'  # the torn half was cut off again
    assert later != first_file  # and writing went on in a fresh file
    assert later.read_bytes() == b'{"n":3}\n'


def test_failed_fsync_raises_and_the_next_commit_goes_to_a_fresh_file(files, monkeypatch):
    real_fsync = os.fsync

    def failing_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output"):
        files.commit(b'{"n":1}\n')
    monkeypatch.setattr(os, "fsync", real_fsync)

    assert files.commit(b'{"n":2}\n').read_bytes() == b'{"n":2}\n'


def test_a_new_file_starts_at_midnight_utc(files, monkeypatch):
    clock = {"now": datetime(2026, 11, 27, 23, 59, 59, tzinfo=UTC)}

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return clock["now"]

    monkeypatch.setattr(landing_file, "datetime", FrozenDatetime)
    before = files.commit(b'{"n":1}\n')
    clock["now"] = datetime(2026, 11, 28, 0, 0, 1, tzinfo=UTC)
    after = files.commit(b'{"n":2}\n')

    assert before.parent.name == "date=2026-11-27"
    assert after.parent.name == "date=2026-11-28"
    assert before.read_bytes() == b'{"n":1}\n'
    assert after.read_bytes() == b'{"n":2}\n'


def test_a_file_moved_away_is_left_behind_and_writing_goes_on_in_a_new_one(files, tmp_path):
    first = files.commit(b'{"n":1}\n')
    moved = tmp_path / "moved.ndjson"
    first.rename(moved)

    second = files.commit(b'{"n":2}\n')

    assert files.moved_files == 1
    assert second != first and second.read_bytes() == b'{"n":2}\n'
    assert moved.read_bytes() == b'{"n":1}\n'


@pytest.fixture
def blocked(tmp_path):
    """Landing files whose stream folder is taken by a regular file."""
    landing_dir = tmp_path / "landing"
    landing_dir.mkdir()
    (landing_dir / "clicks").write_text("not a folder")
    return LandingFiles(landing_dir, "clicks", "host-1")


def test_a_file_where_the_folder_should_be_raises_then_recovers(blocked):
    with pytest.raises(OSError):
        blocked.commit(b'{"n":1}\n')
    blocked.stream_dir.unlink()

    assert blocked.commit(b'{"n":2}\n').read_bytes() == b'{"n":2}\n'


# -- nothing accumulates from failed writes -------------------------------------------------------


def _landing_files(files: LandingFiles) -> list[str]:
    return sorted(p.name for p in files.stream_dir.rglob("*.ndjson"))


def _no_space(fd, data):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_leaves_no_empty_file_per_failed_commit(files, monkeypatch):
    # One disk-full episode left 377 empty files: each commit opened a new file and its write failed.
    monkeypatch.setattr(os, "write", _no_space)
    for _ in range(5):
        with pytest.raises(OSError, match="No space left"):
            files.commit(b'{"n":1}\n')
    monkeypatch.undo()

    assert _landing_files(files) == []
    assert files.commit(b'{"n":2}\n').read_bytes() == b'{"n":2}\n'
    assert len(_landing_files(files)) == 1


def test_a_torn_first_write_or_failed_first_fsync_removes_the_file(files, monkeypatch):
    real_write = os.write

    def torn_write(fd, data):
        real_write(fd, bytes(data[:3]))
        raise OSError(errno.ENOSPC, "No space left on device")

    def failing_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "write", torn_write)
    with pytest.raises(OSError):
        files.commit(b'{"n":1}\n')
    monkeypatch.undo()
    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        files.commit(b'{"n":2}\n')
    monkeypatch.undo()

    assert _landing_files(files) == []


def test_a_file_whose_name_cannot_be_made_durable_is_removed(files, monkeypatch):
    def failing_fsync_dir(path):
        raise OSError(errno.EIO, "Input/output error")

    files.commit(b'{"n":0}\n')  # the day folder exists; the next file is a new one after a rotation
    files.close()
    monkeypatch.setattr(landing_file, "fsync_dir", failing_fsync_dir)
    with pytest.raises(OSError):
        files.commit(b'{"n":1}\n')

    assert len(_landing_files(files)) == 1  # only the first, with its record


def test_a_failed_write_after_records_keeps_the_file_with_its_records(files, monkeypatch):
    first = files.commit(b'{"n":1}\n')
    monkeypatch.setattr(os, "write", _no_space)
    with pytest.raises(OSError):
        files.commit(b'{"n":2}\n')

    assert first.read_bytes() == b'{"n":1}\n'
