"""The server's request-head cap and timeout, on both HTTP parsers, and on the real launch paths."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from attro import cli
from receiver import serving
from receiver.serving import GuardedH11Protocol, GuardedHttpProtocol
from simulator.launcher import ReceiverProcess

MAX_HEAD = 4096
TIMEOUT = 1.0
BODY_TIMEOUT = 2.5
PROTOCOLS = [GuardedHttpProtocol, GuardedH11Protocol]


async def echo_app(scope, receive, send) -> None:
    """Answers 200 with the number of body bytes it read."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    answer = str(size).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(params=PROTOCOLS, ids=["httptools", "h11"])
def server(request, monkeypatch) -> Iterator[tuple[str, int]]:
    """uvicorn with one of our protocols, in a thread of this process, limits MAX_HEAD and TIMEOUT."""
    monkeypatch.setenv("ATTRO_MAX_HEADER_BYTES", str(MAX_HEAD))
    monkeypatch.setenv("ATTRO_HEADER_TIMEOUT_SECONDS", str(TIMEOUT))
    monkeypatch.setenv("ATTRO_BODY_TIMEOUT_SECONDS", str(BODY_TIMEOUT))
    serving.head_limits.cache_clear()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        echo_app, host="127.0.0.1", port=port, http=request.param, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield ("127.0.0.1", port)
    server.should_exit = True
    thread.join(10)
    serving.head_limits.cache_clear()


def head(path: str = "/", **headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: receiver.test", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def trickle(sock: socket.socket, byte: bytes, until: float) -> bytes:
    """Send `byte` every 0.3 s until the server answers and closes (or `until`); what it answered."""
    sock.settimeout(0.3)
    answer = b""
    while time.monotonic() < until:
        try:
            sock.sendall(byte)
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        answer += chunk
        if not chunk:
            break
    return answer


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or 5 s pass)."""
    sock.settimeout(5)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_head_over_the_limit_sent_in_pieces_is_answered_431_and_closed(server):
    with socket.create_connection(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: receiver.test\r\n")
        for _ in range(3):  # 3 x 2 KiB of one header, never finished
            sock.sendall(b"X-Filler: " + b"a" * 2048 + b"\r\n")
            time.sleep(0.05)

        answer = read_all(sock)

    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert answer.endswith(f"request head larger than {MAX_HEAD} bytes".encode())


def test_an_8_mb_user_agent_is_refused_without_reading_it_whole(server):
    started = time.monotonic()
    response = httpx.get(f"http://{server[0]}:{server[1]}/", headers={"User-Agent": "a" * 8_000_000})

    assert response.status_code == 431
    assert time.monotonic() - started < 3


def test_a_small_head_with_a_big_body_in_the_same_packet_is_not_taken_for_a_big_head(server):
    body = b"x" * (10 * MAX_HEAD)
    request = head("/", **{"Content-Length": str(len(body))}).replace(b"GET", b"POST") + body

    with socket.create_connection(server) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = read_all(sock)

    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(str(len(body)).encode())


def read_response(sock: socket.socket) -> bytes:
    """One whole response (head and a Content-Length body) from a kept-alive connection: a response
    can arrive in several pieces, and one recv would leave the rest to be taken for the next one."""
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed inside a response head: {data!r}"
        data += chunk
    head_part, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head_part.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed inside a response body"
        body += chunk
    assert len(body) == length, "more than one response arrived"
    return head_part + b"\r\n\r\n" + body


def test_the_limit_is_per_request_on_a_kept_alive_connection(server):
    under = head("/", **{"X-Filler": "a" * (MAX_HEAD - 200)})
    with socket.create_connection(server) as sock:
        sock.sendall(under)
        first = read_response(sock)
        sock.sendall(under)
        second = read_response(sock)
        sock.sendall(head("/", **{"X-Filler": "a" * MAX_HEAD}))
        third = read_all(sock)

    assert first.startswith(b"HTTP/1.1 200 ") and second.startswith(b"HTTP/1.1 200 ")
    assert third.startswith(b"HTTP/1.1 431 ")


def test_a_head_trickled_slower_than_the_timeout_is_answered_408_and_closed(server):
    started = time.monotonic()
    with socket.create_connection(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: receiver.test\r\n")
        answer = trickle(sock, b"X", until=started + 5)  # slowloris: a byte of header every 0.3 s

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert time.monotonic() - started < TIMEOUT + 1.5


def test_a_connection_that_sends_nothing_is_closed_after_the_timeout(server):
    started = time.monotonic()
    with socket.create_connection(server) as sock:
        answer = read_all(sock)

    assert answer == b""
    assert TIMEOUT - 0.1 < time.monotonic() - started < TIMEOUT + 1.5


def test_a_slow_app_is_not_cut_off_by_the_head_timeout(server):
    # The timer covers the head only: a request that takes longer to answer is not closed.
    body = b"y" * 10
    with socket.create_connection(server) as sock:
        sock.sendall(head("/", **{"Content-Length": str(len(body))}).replace(b"GET", b"POST"))
        time.sleep(TIMEOUT + 0.5)  # the body comes late: the app is still reading it
        sock.sendall(body)
        sock.settimeout(5)
        answer = sock.recv(65536)

    assert answer.startswith(b"HTTP/1.1 200 ")


def test_a_body_trickled_slower_than_its_timeout_is_answered_408_and_closed(server):
    started = time.monotonic()
    with socket.create_connection(server) as sock:
        sock.sendall(head("/", **{"Content-Length": "1000"}).replace(b"GET", b"POST"))
        answer = trickle(sock, b"x", until=started + BODY_TIMEOUT + 5)  # a byte of body every 0.3 s

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"request body not complete within 2.5 s" in answer
    assert BODY_TIMEOUT - 0.1 < time.monotonic() - started < BODY_TIMEOUT + 1.5


def test_the_body_timer_is_per_request_on_a_kept_alive_connection(server):
    body = b"y" * 10
    request = head("/", **{"Content-Length": str(len(body))}).replace(b"GET", b"POST") + body
    with socket.create_connection(server) as sock:
        sock.settimeout(5)
        answers = []
        for _ in range(3):  # each body complete in time; together longer than one body's timeout
            sock.sendall(request)
            answers.append(sock.recv(65536))
            time.sleep(BODY_TIMEOUT / 2)

    assert all(answer.startswith(b"HTTP/1.1 200 ") for answer in answers)


# -- the launch paths -------------------------------------------------------------------------


def test_attro_serve_runs_uvicorn_with_the_guarded_protocol(make_settings, monkeypatch):
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setattr(serving, "serve_workers", lambda app, workers, options: calls.append(options) or True)
    settings = make_settings()

    for workers in (1, 2):
        args = cli.build_parser().parse_args(["serve", "--workers", str(workers)])
        assert cli._serve(args, settings) == 0

    assert len(calls) == 2
    for options in calls:
        assert options["http"] == "receiver.serving:GuardedHttpProtocol"
        assert options["h11_max_incomplete_event_size"] == settings.max_header_bytes
        assert options["access_log"] is False


@pytest.mark.e2e
def test_the_demo_launcher_refuses_an_8_mb_user_agent_at_once_and_lands_nothing(make_settings, kit):
    settings = make_settings()
    settings.data_dir.mkdir()
    with ReceiverProcess(settings, kit.SECRET, kit.API_TOKEN) as receiver:
        started = time.monotonic()
        response = httpx.get(
            f"{receiver.url}/r/jane-pro", headers={"User-Agent": "Mozilla/5.0 " + "a" * 8_000_000}, timeout=30
        )
        took = time.monotonic() - started
        health = httpx.get(f"{receiver.url}/healthz", timeout=5)

    assert response.status_code == 431
    assert took < 3  # was 9-15 s of bot regex on the event loop, and the 8 MB landed
    assert health.status_code == 200
    assert kit.landed(settings, "clicks") == []
