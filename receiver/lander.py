"""The landing process: receives record batches from one receiver process, fsyncs them, acknowledges.

`LandingWriter` (receiver/landing.py) starts one per stream and talks to it over a Unix socket pair.
Running the disk work in its own process keeps it off the receiver's GIL: the event loop only sends
bytes and reads acknowledgements, it never waits for (or hands the interpreter to) a disk thread.

Protocol, both directions on one stream socket:
- request frame: `!QI` (sequence number, length) then `length` bytes of NDJSON lines;
- acknowledgement: `!QBI` (sequence number, status, length) then `length` bytes of UTF-8 text. It
  settles every request up to that sequence number: status OK means written and fsynced, the text
  is the file's path; status FAILED means none of them was kept, the text says why.
Group commit: every complete frame that has arrived is written with one write and one fsync.
The process ignores SIGINT and SIGTERM and exits when the receiver closes its end (also when the
receiver dies), after committing every complete frame it received.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import struct
import sys
from pathlib import Path

from receiver.landing_file import LandingFiles

REQUEST = struct.Struct("!QI")
ACK = struct.Struct("!QBI")
OK, FAILED = 0, 1
_READ_SIZE = 1 << 20


def _log(event: str, **fields: object) -> None:
    # The receiver's log format: one JSON object per line on stderr (shared with the receiver).
    # A full disk can hold the log too: losing a log line must never stop the landing.
    with contextlib.suppress(OSError):
        print(json.dumps({"event": event, **fields}, default=str), file=sys.stderr, flush=True)


def take_frames(buffer: bytearray) -> tuple[int | None, bytes, int]:
    """(last complete sequence number or None, their payloads joined, bytes they use) of `buffer`."""
    offset, last, payloads = 0, None, []
    with memoryview(buffer) as view:
        while len(view) - offset >= REQUEST.size:
            seq, length = REQUEST.unpack_from(view, offset)
            end = offset + REQUEST.size + length
            if end > len(view):
                break
            payloads.append(view[offset + REQUEST.size : end])
            offset, last = end, seq
        data = b"".join(payloads)
        for payload in payloads:
            payload.release()  # `buffer` can be resized again once no view of it is left
    return last, data, offset


def serve(sock: socket.socket, files: LandingFiles, stream: str) -> None:
    """Commit and acknowledge batches until the other end closes."""
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
        last, data, used = take_frames(buffer)
        if last is None:
            continue
        moved = files.moved_files
        try:
            path = files.commit(data)
        except OSError as exc:
            _log("landing_failed", stream=stream, error=str(exc))
            status, text = FAILED, str(exc)
        else:
            status, text = OK, str(path)
        if files.moved_files != moved:
            _log("landing_file_moved", stream=stream)
        del buffer[:used]
        message = text.encode("utf-8", "replace")
        try:
            sock.sendall(ACK.pack(last, status, len(message)) + message)
        except OSError:
            open_ = False  # the receiver is gone; what was committed stays committed
    files.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m receiver.lander FD LANDING_DIR STREAM PREFIX` (started by LandingWriter)."""
    fd, landing_dir, stream, prefix = (argv if argv is not None else sys.argv[1:])[:4]
    # Ctrl-C and a service manager's SIGTERM reach the whole process group; the receiver shuts down
    # gracefully and then closes the socket, which is when this process may stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock = socket.socket(fileno=int(fd))
    sock.setblocking(True)
    try:
        serve(sock, LandingFiles(Path(landing_dir), stream, prefix), stream)
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
