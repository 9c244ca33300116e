"""The landing process's protocol, served in this process: group commit, acknowledgements, both modes."""

from __future__ import annotations

import json
import socket
import time

import pytest

from core.landing_file import LandingFiles, file_prefix
from receiver import lander
from receiver.stripe_events import Delivery, pack_delivery
from simulator.stripe import encode, sign_header

SECRET = "whsec_lander_test"


@pytest.fixture
def files(tmp_path):
    f = LandingFiles(tmp_path / "landing", "clicks", file_prefix(4242))
    yield f
    f.close()


@pytest.fixture
def event_files(tmp_path):
    f = LandingFiles(tmp_path / "landing", "stripe_events", file_prefix(4242))
    yield f
    f.close()


def _blocked(tmp_path, stream: str) -> LandingFiles:
    """Landing files whose stream folder is taken by a regular file."""
    landing_dir = tmp_path / "landing"
    landing_dir.mkdir()
    (landing_dir / stream).write_text("not a folder")
    return LandingFiles(landing_dir, stream, "host-1")


def _frame(seq: int, data: bytes) -> bytes:
    return lander.REQUEST.pack(seq, len(data)) + data


def _serve(files: LandingFiles, sent: bytes, mode: str = lander.RECORDS) -> list[tuple[int, int, str]]:
    """Serve `sent` (then the receiver closing its end); the acknowledgements as (seq, status, text)."""
    receiver_end, lander_end = socket.socketpair()
    receiver_end.sendall(sent)
    receiver_end.shutdown(socket.SHUT_WR)
    lander.serve(lander_end, files, files.stream_dir.name, mode)
    lander_end.close()
    data = b""
    while chunk := receiver_end.recv(65536):
        data += chunk
    receiver_end.close()
    acks, offset = [], 0
    while offset < len(data):
        seq, status, length = lander.ACK.unpack_from(data, offset)
        offset += lander.ACK.size
        acks.append((seq, status, data[offset : offset + length].decode()))
        offset += length
    return acks


def _delivery(event_id: str, *, secret: str = SECRET) -> bytes:
    event = {
        "id": event_id,
        "object": "event",
        "type": "invoice.paid",
        "created": 1_760_000_000,
        "livemode": False,
        "data": {"object": {"object": "invoice", "id": "in_1"}},
    }
    body = encode(event)
    now = time.time()
    return pack_delivery(Delivery(body, sign_header(body, secret, int(now)), [SECRET], 300, now))


# -- records (clicks) -------------------------------------------------------------------------------


def test_everything_waiting_is_committed_together_and_acknowledged_once(files):
    acks = _serve(files, b"".join(_frame(n, b'{"n":%d}\n' % n) for n in range(1, 51)))

    (path,) = files.stream_dir.glob("date=*/*.ndjson")
    assert acks == [(50, lander.OK, str(path))]
    assert path.read_bytes() == b"".join(b'{"n":%d}\n' % n for n in range(1, 51))


def test_a_frame_cut_off_by_the_receiver_dying_is_not_committed(files):
    whole, cut = _frame(1, b'{"n":1}\n'), _frame(2, b'{"n":2,"pad":"xxxxxxxx"}\n')[:-5]

    acks = _serve(files, whole + cut)

    (path,) = files.stream_dir.glob("date=*/*.ndjson")
    assert [(seq, status) for seq, status, _ in acks] == [(1, lander.OK)]
    assert path.read_bytes() == b'{"n":1}\n'


def test_a_failed_commit_is_acknowledged_as_failed_with_the_reason(tmp_path):
    ((seq, status, reason),) = _serve(_blocked(tmp_path, "clicks"), _frame(7, b'{"n":1}\n'))

    assert (seq, status) == (7, lander.FAILED)
    assert "Not a directory" in reason or "File exists" in reason


# -- Stripe deliveries ------------------------------------------------------------------------------


def test_deliveries_are_verified_each_and_the_verified_ones_committed_together(event_files, monkeypatch):
    commits = []
    real_commit = event_files.commit
    monkeypatch.setattr(event_files, "commit", lambda data: commits.append(data) or real_commit(data))
    sent = [
        _frame(1, _delivery("evt_first")),
        _frame(2, _delivery("evt_forged", secret="whsec_someone_else")),
        _frame(3, _delivery("evt_second")),
        _frame(4, b"not a delivery frame"),
    ]

    acks = _serve(event_files, b"".join(sent), lander.STRIPE_EVENTS)

    (path,) = event_files.stream_dir.glob("date=*/*.ndjson")
    assert [(seq, status) for seq, status, _ in acks] == [
        (1, lander.OK),
        (2, lander.REJECTED),
        (3, lander.OK),
        (4, lander.FAILED),
    ]
    assert json.loads(acks[0][2]) == {"path": str(path), "event_id": "evt_first", "type": "invoice.paid"}
    assert json.loads(acks[2][2])["event_id"] == "evt_second"
    assert acks[1][2] == "no signature matches a configured webhook secret"
    assert acks[3][2] == "the event could not be processed (ValueError)"
    assert len(commits) == 1
    landed = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [record["event_id"] for record in landed] == ["evt_first", "evt_second"]


def test_verified_deliveries_fail_together_when_their_commit_fails(tmp_path):
    sent = _frame(1, _delivery("evt_ok")) + _frame(2, _delivery("evt_bad", secret="whsec_other"))

    acks = _serve(_blocked(tmp_path, "stripe_events"), sent, lander.STRIPE_EVENTS)

    assert [(seq, status) for seq, status, _ in acks] == [(1, lander.FAILED), (2, lander.REJECTED)]
    assert "Not a directory" in acks[0][2] or "File exists" in acks[0][2]


def test_a_batch_of_only_refused_deliveries_writes_nothing(event_files):
    acks = _serve(event_files, _frame(1, _delivery("evt_x", secret="whsec_other")), lander.STRIPE_EVENTS)

    assert [(seq, status) for seq, status, _ in acks] == [(1, lander.REJECTED)]
    assert not list(event_files.stream_dir.glob("date=*/*.ndjson"))
