"""The landing writers: append-only NDJSON per stream and UTC date, group-committed with fsync."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from core.landing_file import file_prefix
from core.landing_records import encode_record
from receiver import lander
from receiver.logs import log_json
from receiver.signature import WebhookRejected
from receiver.stripe_events import Delivery, pack_delivery

logger = logging.getLogger(__name__)


PROBE_MAX_BYTES = 1 << 20


class LandingError(RuntimeError):
    """Records could not be landed durably (disk full, read-only, bad directory, writer closed)."""


Ack = tuple[int, str]  # (lander status, text) of one request


class _LandingProcess:
    """One stream of the landing zone, written by a landing process of its own (`receiver.lander`).

    The process is started here and fed over a Unix socket pair: a request queues its frame and
    waits; once per event-loop turn everything queued is sent in one go; the lander writes all
    that has arrived with one write and one fsync (group commit) and acknowledges it, and only then
    do the waiting requests return.
    Files: `<landing_dir>/<stream>/date=YYYY-MM-DD/<host>-<pid>-<8 hex>.ndjson` (`pid`: this
    process), a new one per UTC date, and a new one after any failed write. If the lander dies, the
    requests it had not acknowledged fail with LandingError and a new lander starts at once.
    """

    _mode = lander.RECORDS

    def __init__(self, landing_dir: Path, stream: str) -> None:
        self.landing_dir = Path(landing_dir)
        self.stream = stream
        self.stream_dir = self.landing_dir / stream
        self.commits = 0  # acknowledgements: one per group commit of records, one per Stripe delivery
        self._prefix = file_prefix(os.getpid())
        self._closed = False
        self._seq = 0
        self._pending: deque[tuple[int, asyncio.Future[Ack]]] = deque()
        self._outbox = bytearray()  # request frames not yet taken by the socket
        self._acks = bytearray()  # acknowledgement bytes not yet parsed
        self._flush_scheduled = False
        self._waiting_to_send = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._current_path: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._probe_lock = threading.Lock()  # /healthz runs in worker threads
        # (size, reason) of the last commit that failed, until a probe of that size or a commit
        # succeeds: a disk with a few bytes left takes a tiny probe but not the next event.
        self._failed_write: tuple[int, str] | None = None
        self._start_lander()

    async def _submit(self, payload: bytes) -> Ack:
        """The lander's (status, text) for one request frame; LandingError if it never answers."""
        if self._closed:
            raise LandingError(f"landing writer for {self.stream!r} is closed")
        if self._sock is None:
            raise LandingError(f"the landing process for {self.stream!r} could not be started")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._attach(loop)
        self._seq += 1
        future: asyncio.Future[Ack] = loop.create_future()
        self._pending.append((self._seq, future))
        self._outbox += lander.REQUEST.pack(self._seq, len(payload))
        self._outbox += payload
        if not self._flush_scheduled:
            # Everything submitted during this turn of the loop goes out with one send.
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _landed_in(self, path: str) -> Path:
        """Note the file a commit went to (a Path per file, not per request: they cost ~5 us)."""
        if self._current_path is None or str(self._current_path) != path:
            self._current_path = Path(path)
        return self._current_path

    def close(self) -> None:
        """Send what is queued, let the lander commit it, stop it and wait for it to exit."""
        if self._closed:
            return
        self._closed = True
        sock = self._sock
        if sock is not None:
            self._detach()
            try:
                sock.settimeout(30)
                if self._outbox:
                    sock.sendall(self._outbox)
                    self._outbox.clear()
                sock.shutdown(socket.SHUT_WR)  # the lander commits what it has, then exits
                while chunk := sock.recv(1 << 16):
                    self._acks += chunk
                    self._settle_acks()
            except OSError as exc:
                self._log_error("lander_close_failed", error=str(exc))
            sock.close()
            self._sock = None
        self._reap()
        self._fail_pending(LandingError(f"landing writer for {self.stream!r} is closed"))

    @property
    def current_path(self) -> Path | None:
        """The file the last commit went to (None before the first one or after a failure)."""
        return self._current_path

    def check_writable(self) -> str | None:
        """None when the lander runs and a probe file can be created, fsynced and deleted.

        After a failed commit the probe is as large as what failed, so a disk that still takes a
        few bytes but not the next event is reported, and recovery is seen once that much fits.
        """
        if self._closed:
            return f"landing writer for {self.stream!r} is closed"
        process = self._process
        if process is None or process.poll() is not None:
            return f"the landing process for {self.stream!r} is not running"
        failed = self._failed_write
        # at most a webhook's largest body: a probe on every poll must not itself fill a nearly full disk
        size = min(max(failed[0], 1), PROBE_MAX_BYTES) if failed is not None else 1
        # One probe name per process and stream, one probe at a time: a probe whose delete fails is
        # reused by the next one instead of leaving a new file behind on every health check.
        probe = self.stream_dir / f".probe-{self._prefix}"
        with self._probe_lock:
            try:
                self.stream_dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    _write_all(fd, b"probe\n" if failed is None else b"\n" * size)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                probe.unlink()
            except OSError as exc:
                with contextlib.suppress(OSError):
                    probe.unlink()
                problem = f"{self.stream_dir} is not writable: {exc.strerror or exc}"
                if failed is not None:
                    problem += (
                        f" (a probe of {size} bytes, the size of the last write, which failed: {failed[1]})"
                    )
                return problem
        if failed is not None and self._failed_write is failed:
            self._failed_write = None
        return None

    def _commit_failed(self, size: int, reason: str) -> None:
        self._current_path = None
        self._failed_write = (size, reason)

    # -- the lander and its socket --------------------------------------------------------------

    def _start_lander(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            command = [sys.executable, "-m", "receiver.lander", str(theirs.fileno())]
            command += [str(self.landing_dir), self.stream, self._prefix, self._mode]
            self._process = subprocess.Popen(
                command, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self._loop = None  # registered with the event loop on the next append

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Watch the socket from `loop` (the app's loop; tests may use one loop per call)."""
        assert self._sock is not None
        if self._loop is not None and not self._loop.is_closed() and self._pending:
            raise LandingError(f"landing writer for {self.stream!r} is in use by another event loop")
        self._detach()
        self._pending.clear()  # left by a closed loop: nobody can await them any more
        self._flush_scheduled = False
        loop.add_reader(self._sock.fileno(), self._on_readable)
        self._loop = loop

    def _detach(self) -> None:
        loop, sock = self._loop, self._sock
        if loop is not None and sock is not None and not loop.is_closed():
            loop.remove_reader(sock.fileno())
            if self._waiting_to_send:
                loop.remove_writer(sock.fileno())
        self._waiting_to_send = False
        self._loop = None

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._waiting_to_send:
            self._send()

    def _send(self) -> None:
        sock, loop = self._sock, self._loop
        if sock is None or loop is None:
            return
        try:
            sent = sock.send(self._outbox) if self._outbox else 0
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._lander_lost(f"sending to it failed: {exc}")
            return
        del self._outbox[:sent]
        if self._outbox and not self._waiting_to_send:
            loop.add_writer(sock.fileno(), self._send)  # the socket is full: send the rest later
            self._waiting_to_send = True
        elif not self._outbox and self._waiting_to_send:
            loop.remove_writer(sock.fileno())
            self._waiting_to_send = False

    def _on_readable(self) -> None:
        if self._sock is None:
            return
        try:
            chunk = self._sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lander_lost(f"reading from it failed: {exc}")
            return
        if not chunk:
            self._lander_lost("it exited")
            return
        self._acks += chunk
        self._settle_acks()

    def _settle_acks(self) -> None:
        acks, offset = self._acks, 0
        while len(acks) - offset >= lander.ACK.size:
            seq, status, length = lander.ACK.unpack_from(acks, offset)
            end = offset + lander.ACK.size + length
            if end > len(acks):
                break
            text = bytes(acks[offset + lander.ACK.size : end]).decode("utf-8", "replace")
            offset = end
            self.commits += 1
            while self._pending and self._pending[0][0] <= seq:
                _settle(self._pending.popleft()[1], (status, text))
        del acks[:offset]

    def _lander_lost(self, reason: str) -> None:
        """The lander died or its socket broke: fail what it had not acknowledged, start a new one."""
        self._log_error("lander_lost", reason=reason)
        self._detach()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._process is not None and self._process.poll() is None:
            self._process.kill()  # alive with a broken socket: of no use any more
        self._reap()
        self._outbox.clear()
        self._acks.clear()
        self._current_path = None
        self._fail_pending(LandingError(f"the landing process for {self.stream!r} stopped ({reason}); retry"))
        if not self._closed:
            try:
                self._start_lander()
            except OSError as exc:
                self._log_error("lander_start_failed", error=str(exc))

    def _reap(self) -> None:
        process = self._process
        if process is None:
            return
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _log_error(self, event: str, **fields: str) -> None:
        log_json(logger, logging.ERROR, event, stream=self.stream, **fields)

    def _fail_pending(self, error: LandingError) -> None:
        while self._pending:
            _settle(self._pending.popleft()[1], error)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _settle(future: asyncio.Future[Ack], outcome: Ack | LandingError) -> None:
    if future.done():
        return  # the request was cancelled (client went away); its records are landed regardless
    with contextlib.suppress(RuntimeError):  # its event loop is closed: nobody is listening
        if isinstance(outcome, LandingError):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class LandingWriter(_LandingProcess):
    """Append-only NDJSON records (e.g. `clicks`): `append` returns once they are fsynced."""

    async def append(self, records: list[dict[str, Any]]) -> None:
        """Land `records` in order, contiguously; return once fsynced, else raise LandingError."""
        try:
            data = b"".join([encode_record(r) for r in records])
        except (TypeError, ValueError) as exc:
            raise LandingError(f"record is not JSON-serialisable: {exc}") from exc
        await self.append_lines(data)

    async def append_lines(self, data: bytes) -> None:
        """Land NDJSON lines already encoded (`encode_record`), contiguously; as `append`."""
        if not data:
            return
        status, text = await self._submit(data)
        if status != lander.OK:
            self._commit_failed(len(data), text)
            raise LandingError(f"could not land {self.stream} records: {text}")
        self._failed_write = None
        self._landed_in(text)


@dataclass(frozen=True)
class LandedEvent:
    """A verified Stripe event, fsynced in `path`."""

    event_id: str
    event_type: str
    path: Path


class StripeEventWriter(_LandingProcess):
    """Stripe webhook deliveries: its landing process verifies each one, then lands the event.

    Verification (HMAC over the body), parsing and encoding run in the landing process, on another
    core than the event loop; a delivery is answered only once its event is fsynced or refused.
    """

    _mode = lander.STRIPE_EVENTS

    async def land(self, delivery: Delivery) -> LandedEvent:
        """The landed event; WebhookRejected when it is not a verified Stripe event, LandingError
        when it could not be stored durably."""
        payload = pack_delivery(delivery)
        status, text = await self._submit(payload)
        if status == lander.REJECTED:
            raise WebhookRejected(text)
        if status != lander.OK:
            self._commit_failed(len(payload), text)
            raise LandingError(f"could not land a {self.stream} event: {text}")
        self._failed_write = None
        landed = orjson.loads(text)
        return LandedEvent(landed["event_id"], landed["type"], self._landed_in(landed["path"]))
