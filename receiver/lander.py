"""The landing process: receives batches from one receiver process, fsyncs them, acknowledges.

`LandingWriter` and `StripeEventWriter` (receiver/landing.py) each start one and talk to it over a
Unix socket pair. Running the disk work in its own process keeps it off the receiver's GIL: the
event loop only sends bytes and reads acknowledgements, it never waits for (or hands the
interpreter to) a disk thread. The Stripe events lander also verifies and parses each delivery
(receiver/stripe_events.py), which puts that CPU work on another core.

Protocol, both directions on one stream socket:
- request frame: `!QI` (sequence number, length) then `length` bytes: NDJSON lines (mode
  `records`) or one packed webhook delivery (mode `stripe_events`);
- acknowledgement: `!QBI` (sequence number, status, length) then `length` bytes of UTF-8 text. It
  settles every request up to that sequence number not settled yet:
  - OK: written and fsynced; the text is the file's path (`records`), or a JSON object with the
    path, event id and type (`stripe_events`, one acknowledgement per delivery);
  - FAILED: not kept; the text says why;
  - REJECTED (`stripe_events` only): not a verified Stripe event; the text is the reason, safe to
    return and log.
Group commit: every complete frame that has arrived is written with one write and one fsync.
The process ignores SIGINT and SIGTERM and exits when the receiver closes its end (also when the
receiver dies), after committing every complete frame it received.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import signal
import socket
import struct
import sys
from collections.abc import Callable
from pathlib import Path

from core.heap import freeze_startup_heap
from core.landing_file import LandingFiles

REQUEST = struct.Struct("!QI")
ACK = struct.Struct("!QBI")
OK, FAILED, REJECTED = 0, 1, 2
RECORDS, STRIPE_EVENTS = "records", "stripe_events"
_READ_SIZE = 1 << 20

Frames = list[tuple[int, bytes]]
Acks = list[tuple[int, int, str]]


def _log(event: str, **fields: object) -> None:
    # The receiver's log format: one JSON object per line on stderr (shared with the receiver).
    # A full disk can hold the log too: losing a log line must never stop the landing.
    with contextlib.suppress(OSError):
        print(json.dumps({"event": event, **fields}, default=str), file=sys.stderr, flush=True)


def take_frames(buffer: bytearray) -> tuple[Frames, int]:
    """The complete frames at the start of `buffer` as (sequence number, payload), and bytes used."""
    offset, frames = 0, []
    with memoryview(buffer) as view:
        while len(view) - offset >= REQUEST.size:
            seq, length = REQUEST.unpack_from(view, offset)
            end = offset + REQUEST.size + length
            if end > len(view):
                break
            frames.append((seq, bytes(view[offset + REQUEST.size : end])))
            offset = end
    return frames, offset


def _commit(files: LandingFiles, stream: str, data: bytes) -> tuple[int, str]:
    """(OK, path) or (FAILED, why) of writing and fsyncing `data`."""
    moved = files.moved_files
    try:
        path = files.commit(data)
    except OSError as exc:
        _log("landing_failed", stream=stream, error=str(exc))
        return FAILED, str(exc)
    finally:
        if files.moved_files != moved:
            _log("landing_file_moved", stream=stream)
    return OK, str(path)


def land_records(frames: Frames, files: LandingFiles, stream: str) -> Acks:
    """Commit every frame's lines together; one acknowledgement settles them all."""
    status, text = _commit(files, stream, b"".join(payload for _, payload in frames))
    return [(frames[-1][0], status, text)]


def land_stripe_events(frames: Frames, files: LandingFiles, stream: str) -> Acks:
    """Verify each delivery, commit the verified ones together, acknowledge each in order."""
    # Imported here, not at the top: the clicks lander has no use for the stripe library.
    from receiver.signature import WebhookRejected
    from receiver.stripe_events import LandingLine, landing_line, unpack_delivery

    outcomes: list[tuple[int, LandingLine | tuple[int, str]]] = []
    for seq, payload in frames:
        try:
            outcomes.append((seq, landing_line(unpack_delivery(payload))))
        except WebhookRejected as exc:
            outcomes.append((seq, (REJECTED, exc.reason)))
        except Exception as exc:  # noqa: BLE001 - a bad delivery must never stop the landing
            # Only the type: a message could quote the body. Stripe retries a 503.
            _log("delivery_failed", stream=stream, error=type(exc).__name__)
            outcomes.append((seq, (FAILED, f"the event could not be processed ({type(exc).__name__})")))
    lines = [outcome.line for _, outcome in outcomes if isinstance(outcome, LandingLine)]
    status, text = _commit(files, stream, b"".join(lines)) if lines else (OK, "")
    acks: Acks = []
    for seq, outcome in outcomes:
        if not isinstance(outcome, LandingLine):
            acks.append((seq, *outcome))
        elif status != OK:
            acks.append((seq, status, text))
        else:
            landed = {"path": text, "event_id": outcome.event_id, "type": outcome.event_type}
            acks.append((seq, OK, json.dumps(landed)))
    return acks


MODES: dict[str, Callable[[Frames, LandingFiles, str], Acks]] = {
    RECORDS: land_records,
    STRIPE_EVENTS: land_stripe_events,
}


def serve(sock: socket.socket, files: LandingFiles, stream: str, mode: str = RECORDS) -> None:
    """Commit and acknowledge batches until the other end closes."""
    land = MODES[mode]
    buffer = bytearray()
    open_ = True
    while open_:
        try:
            chunk = sock.recv(_READ_SIZE)  # blocks until the receiver sends (or goes away)
        except OSError:
            chunk = b""
        if not chunk:
            open_ = False
        buffer += chunk
        while open_:  # take everything already waiting: one commit for all of it
            try:
                more = sock.recv(_READ_SIZE, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            except OSError:
                more = b""
            if not more:
                open_ = False
            buffer += more
        frames, used = take_frames(buffer)
        if not frames:
            continue
        del buffer[:used]
        acks = land(frames, files, stream)
        message = b"".join(
            ACK.pack(seq, status, len(data)) + data
            for seq, status, text in acks
            for data in [text.encode("utf-8", "replace")]
        )
        try:
            sock.sendall(message)
        except OSError:
            open_ = False  # the receiver is gone; what was committed stays committed
    files.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m receiver.lander FD LANDING_DIR STREAM PREFIX MODE` (started by LandingWriter)."""
    fd, landing_dir, stream, prefix, mode = (argv if argv is not None else sys.argv[1:])[:5]
    # Ctrl-C and a service manager's SIGTERM reach the whole process group; the receiver shuts down
    # gracefully and then closes the socket, which is when this process may stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode == STRIPE_EVENTS:
        importlib.import_module("receiver.stripe_events")  # load stripe now, not on the first webhook
    freeze_startup_heap()  # what start-up imported (stripe, for the events lander) is here for good
    sock = socket.socket(fileno=int(fd))
    sock.setblocking(True)
    try:
        serve(sock, LandingFiles(Path(landing_dir), stream, prefix), stream, mode)
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
