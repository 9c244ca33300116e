"""How the receiver is served: uvicorn options, and HTTP protocols that cap and time request heads.

uvicorn buffers a request's head (request line and headers) without limit under httptools and keeps
a connection that never finishes its head open for ever, under either parser. The protocols here
count the bytes of each head as they arrive and answer 431 and close once it passes
ATTRO_MAX_HEADER_BYTES, close a connection whose head is not complete within
ATTRO_HEADER_TIMEOUT_SECONDS of its first byte (or of the connection, for the first request), and
answer 408 and close one whose body is not complete within ATTRO_BODY_TIMEOUT_SECONDS of its head, so
neither a huge header nor a slow head or body (slowloris) holds the server. `attro serve` and the demo
launcher start uvicorn with `uvicorn_options` / `uvicorn_cli_args`; a bare `uvicorn
receiver.main:create_app --factory` lacks this protection (the app still refuses big heads with 431,
see receiver/request_head.py, but only after the server has read them).
"""

from __future__ import annotations

import asyncio
import http
import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from core.settings import Settings
from receiver.logs import log_json

logger = logging.getLogger(__name__)

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is in the lock file; h11 is uvicorn's fallback
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

_LINGER_SECONDS = 2.0  # how long a refused connection may take to read the answer
_HEAD_ENDS = ((b"\r\n\r\n", 4), (b"\n\n", 2))  # the blank line after the headers (bare LF tolerated)


@dataclass(frozen=True)
class HeadLimits:
    max_bytes: int
    timeout_seconds: float
    body_timeout_seconds: float


@cache
def head_limits() -> HeadLimits:
    """The limits from ATTRO_* settings, read once per process (the server's worker processes too)."""
    settings = Settings()
    return HeadLimits(
        settings.max_header_bytes, settings.header_timeout_seconds, settings.body_timeout_seconds
    )


def _plain_response(status: int, text: str) -> bytes:
    body = text.encode()
    head = f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
    head += f"content-type: text/plain; charset=utf-8\r\ncontent-length: {len(body)}\r\n"
    head += "connection: close\r\n\r\n"
    return head.encode("latin-1") + body


class _HeadGuard:
    """What both protocols share: the byte count and the timer of the request head being read, and
    the timer of its body.

    A protocol calls `_guard_data` before parsing each chunk and `_head_done` once a head is
    complete, starts the body timer when a body is being read and stops it once the request is whole;
    it says whether it is reading a head (`_reading_head`) and whether a request is being answered
    (`_answering`).
    """

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop

    def _init_guard(self) -> None:
        limits = head_limits()
        self._max_head_bytes = limits.max_bytes
        self._head_timeout = limits.timeout_seconds
        self._head_bytes = 0
        self._head_tail = b""  # the last bytes counted, to find a blank line split between chunks
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timeout = limits.body_timeout_seconds
        self._body_timer: asyncio.TimerHandle | None = None
        self._refused = False

    def _reading_head(self) -> bool:
        raise NotImplementedError

    def _answering(self) -> bool:
        raise NotImplementedError

    def _guard_data(self, data: bytes) -> bool:
        """Count `data` if it belongs to a head; False when the connection was refused or is closing."""
        if self._refused or self.transport.is_closing():
            return False
        if not self._reading_head():
            return True
        if self._head_timer is None:
            self._start_head_timer()
        if self._head_bytes + self._head_part(data) > self._max_head_bytes:
            self._refuse(431, f"request head larger than {self._max_head_bytes} bytes")
            return False
        self._head_bytes += len(data)
        self._head_tail = (self._head_tail + data[-3:])[-3:]
        return True

    def _head_part(self, data: bytes) -> int:
        """How many bytes of `data` belong to the head: up to its blank line if it is in there.

        Only searched when the whole chunk would go over the limit, so a head plus the start of a
        big body in one read is not taken for a big head.
        """
        if self._head_bytes + len(data) <= self._max_head_bytes:
            return len(data)
        window = self._head_tail + data
        ends = [found + size for mark, size in _HEAD_ENDS if (found := window.find(mark)) >= 0]
        return min(ends) - len(self._head_tail) if ends else len(data)

    def _head_done(self) -> None:
        self._stop_head_timer()
        self._head_bytes = 0
        self._head_tail = b""

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._reading_head() or self._answering():
            return
        if self._head_bytes:
            self._refuse(408, f"request head not complete within {self._head_timeout:g} s")
        else:
            self.transport.close()  # opened and never used: nothing to tell

    def _start_body_timer(self) -> None:
        if self._body_timer is None:
            self._body_timer = self.loop.call_later(self._body_timeout, self._body_timed_out)

    def _stop_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self) -> None:
        self._body_timer = None
        cycle = getattr(self, "cycle", None)
        if self.transport.is_closing() or cycle is None:
            return
        if cycle.response_started:  # the app answered before reading it all: nothing more to say
            self.transport.close()
            return
        # The app is waiting for the rest of the body: it reads a disconnect, and what it would send
        # after is dropped (uvicorn sends nothing for a disconnected cycle), so the 408 is the answer.
        cycle.disconnected = True
        cycle.message_event.set()
        self._refuse(408, f"request body not complete within {self._body_timeout:g} s")

    def _refuse(self, status: int, reason: str) -> None:
        log_json(logger, logging.WARNING, "request_refused", status=status, reason=reason)
        self._stop_head_timer()
        self._stop_body_timer()
        self._refused = True
        self.transport.write(_plain_response(status, reason))
        # Closing with the client's unread bytes in our socket would reset the connection before it
        # reads the answer (a browser with too many cookies would see a network error, not 431):
        # end our side, drop whatever else it sends, and close when it does or after a short while.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_SECONDS, self.transport.close)


class GuardedH11Protocol(_HeadGuard, H11Protocol):
    """uvicorn's h11 protocol with the head cap and timeout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_guard()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        self._stop_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._guard_data(data):
            return
        super().data_received(data)
        if not self._reading_head():
            self._head_done()
        if self.conn.their_state is h11.SEND_BODY:
            self._start_body_timer()
        else:
            self._stop_body_timer()

    def _reading_head(self) -> bool:
        # IDLE: waiting for (the rest of) a request line and headers; h11 leaves it with the Request.
        return self.conn.their_state is h11.IDLE

    def _answering(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete


if HttpToolsProtocol is not None:

    class GuardedHttpToolsProtocol(_HeadGuard, HttpToolsProtocol):
        """uvicorn's httptools protocol with the head cap and timeout (httptools itself has neither)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._init_guard()
            self._in_head = True

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._start_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_head_timer()
            self._stop_body_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._guard_data(data):
                super().data_received(data)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_done()
            super().on_headers_complete()
            self._start_body_timer()  # until on_message_complete, at once for a request without a body

        def on_message_complete(self) -> None:
            self._stop_body_timer()
            super().on_message_complete()
            self._in_head = True  # what comes next is the next request's head

        def _reading_head(self) -> bool:
            return self._in_head

        def _answering(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

    GuardedHttpProtocol: type[asyncio.Protocol] = GuardedHttpToolsProtocol
else:  # pragma: no cover
    GuardedHttpProtocol = GuardedH11Protocol

HTTP_PROTOCOL = "receiver.serving:GuardedHttpProtocol"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` that every launch of the receiver uses."""
    return {
        "http": HTTP_PROTOCOL,
        # h11's own buffer limit too, for heads that arrive while a pipelined request is answered.
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        # uvicorn's access log would print raw client IPs and query strings: the receiver logs its
        # own JSON line per request instead.
        "access_log": False,
    }


def serve_workers(app: str, workers: int, options: dict[str, Any]) -> bool:
    """Serve the app factory `app` from `workers` processes under uvicorn's supervisor, as
    `uvicorn.run(..., workers=N)` does; False when the supervisor stopped on its own rather than on a
    signal (a replacement worker that could not start: uvicorn then stops every worker)."""
    from uvicorn import Config
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        gave_up = False

        def keep_subprocess_alive(self) -> None:
            stopping = self.should_exit.is_set()  # a signal, handled just before
            super().keep_subprocess_alive()
            self.gave_up = self.gave_up or (not stopping and self.should_exit.is_set())

    # uvicorn waits 5 s for a new worker to start (SIGHUP's replacement one by one) and for a worker's
    # answer to its health ping: a loaded 2-core box took about 5 s to start one, and uvicorn then
    # killed the replacement and gave up the restart (load audit).
    config = Config(app, factory=True, workers=workers, timeout_worker_healthcheck=30, **options)
    supervisor = Supervisor(config, sockets=[config.bind_socket()])
    supervisor.run()
    return not supervisor.gave_up


def uvicorn_cli_args(settings: Settings) -> list[str]:
    """`uvicorn_options` as `python -m uvicorn` arguments, for launchers that start a process."""
    options = uvicorn_options(settings)
    return [
        "--http",
        options["http"],
        "--h11-max-incomplete-event-size",
        str(options["h11_max_incomplete_event_size"]),
        "--no-access-log",
    ]
