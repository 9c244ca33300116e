"""A local Stripe API for tests: a real threaded HTTP server on 127.0.0.1 answering like Stripe's list
endpoints, for the official `stripe` library to talk to.

It serves `/v1/events` and the object lists (`/v1/checkout/sessions`, `/v1/invoices`, ...) newest
first with `limit`, `starting_after`, `created[gte|gt|lte|lt]`, `types[]` and
`expand[]=data.discounts`; answers 401 to any other key, and can be told to rate limit (429 with
Retry-After) once, to fail once (500, which the library retries), or to go down after some pages (500
that Stripe marks not retryable) until restored.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pipelines.sources.stripe_api.snapshots import Reading, snapshot_events

Obj = dict[str, Any]

LIST_PATHS = {  # Stripe object type → the list endpoint that returns it
    "checkout.session": "/v1/checkout/sessions",
    "invoice": "/v1/invoices",
    "invoice_payment": "/v1/invoice_payments",
    "charge": "/v1/charges",
    "payment_intent": "/v1/payment_intents",
    "refund": "/v1/refunds",
    "dispute": "/v1/disputes",
    "subscription": "/v1/subscriptions",
    "promotion_code": "/v1/promotion_codes",
    "customer": "/v1/customers",
}
DISCOUNTS = "discount"  # not a list: the discounts an invoice listed with expand[]=data.discounts shows


def objects_from_events(events: Iterable[Obj]) -> dict[str, list[Obj]]:
    """What Stripe's object lists hold after these events: each object in its latest state."""
    latest: dict[str, tuple[tuple[int, int], Obj]] = {}
    for order, event in enumerate(events):
        obj = event["data"]["object"]
        key = (event["created"], order)
        kinds = (*LIST_PATHS, DISCOUNTS)
        if obj.get("object") in kinds and (obj["id"] not in latest or latest[obj["id"]][0] <= key):
            latest[obj["id"]] = (key, obj)
    lists: dict[str, list[Obj]] = {path: [] for path in (*LIST_PATHS.values(), DISCOUNTS)}
    for _key, obj in latest.values():
        lists[LIST_PATHS.get(obj["object"], DISCOUNTS)].append(obj)
    return lists


def expanded(obj: Obj, objects: dict[str, list[Obj]]) -> Obj:
    """An invoice as `expand[]=data.discounts` shows it: each discount id replaced by the discount."""
    discounts = {d["id"]: d for d in objects.get(DISCOUNTS, [])}
    if obj.get("object") != "invoice" or not isinstance(obj.get("discounts"), list):
        return obj
    return {**obj, "discounts": [discounts.get(d, d) if isinstance(d, str) else d for d in obj["discounts"]]}


def backfilled(events: list[Obj], api_version: str = "2026-10-28.endive") -> list[Obj]:
    """What `attro stripe backfill` lands for the objects these events left behind: their snapshots
    (read with a key of the events' mode)."""
    reading = Reading(api_version, livemode=bool(events) and events[0]["livemode"])
    lists = objects_from_events(events)
    return [
        event
        for path in LIST_PATHS.values()
        for obj in lists[path]
        for event in snapshot_events(expanded(obj, lists), reading)
    ]


def masked(key: str) -> str:
    """How Stripe shows a key in an error: its start and last four characters."""
    return key[:8] + "*" * max(len(key) - 12, 0) + key[-4:]


@dataclass
class Request:
    path: str
    params: dict[str, Any]
    status: int


@dataclass
class FakeStripe:
    """The server's data and behaviour; `url` once started (use `serve()`)."""

    api_key: str
    events: list[Obj] = field(default_factory=list)
    objects: dict[str, list[Obj]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    _rate_limits: dict[tuple[str, int], float] = field(default_factory=dict)
    _failures: set[tuple[str, int]] = field(default_factory=set)
    _pages_before_outage: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- behaviours --------------------------------------------------------------------------------

    def rate_limit_once(self, path: str, request: int = 1, retry_after: float = 1) -> None:
        """Answer the `request`-th request to `path` (1 = the first) with 429 and Retry-After."""
        self._rate_limits[(path, request)] = retry_after

    def fail_once(self, path: str, request: int = 1) -> None:
        """Answer the `request`-th request to `path` with a 500 the library retries."""
        self._failures.add((path, request))

    def go_down_after(self, pages: int) -> None:
        """Serve `pages` more list pages, then answer every request with a 500 Stripe marks not
        retryable (the listing stops) until `restore()`."""
        self._pages_before_outage = pages

    def restore(self) -> None:
        self._pages_before_outage = None

    def served(self, path: str) -> list[Request]:
        """Requests to `path` answered 200."""
        return [r for r in self.requests if r.path == path and r.status == 200]

    # -- answering ----------------------------------------------------------------------------------

    def answer(self, path: str, query: list[tuple[str, str]], authorization: str) -> tuple[int, Obj, dict]:
        params = _params(query)
        with self._lock:
            count = sum(1 for r in self.requests if r.path == path) + 1
            status, body, headers = self._answer(path, params, authorization, count)
            self.requests.append(Request(path, params, status))
        return status, body, headers

    def _answer(
        self, path: str, params: dict[str, Any], authorization: str, count: int
    ) -> tuple[int, Obj, dict]:
        if authorization != f"Bearer {self.api_key}":
            given = authorization.removeprefix("Bearer ")
            return _error(401, "invalid_request_error", f"Invalid API Key provided: {masked(given)}")
        if (path, count) in self._rate_limits:
            retry_after = self._rate_limits.pop((path, count))
            headers = {"Retry-After": f"{retry_after:g}"}
            return (
                *_error(429, "rate_limit_error", "Too many requests hit the API too quickly.")[:2],
                headers,
            )
        if (path, count) in self._failures:
            self._failures.discard((path, count))
            return _error(500, "api_error", "An unknown error occurred.")
        if self._pages_before_outage is not None:
            if self._pages_before_outage <= 0:
                status, body, _ = _error(500, "api_error", "Stripe is unavailable (outage).")
                return status, body, {"Stripe-Should-Retry": "false"}
            self._pages_before_outage -= 1
        items = self.events if path == "/v1/events" else self.objects.get(path)
        if items is None:
            return _error(404, "invalid_request_error", f"Unrecognized request URL (GET: {path}).")
        if "data.discounts" in params.get("expand", []):
            items = [expanded(item, self.objects) for item in items]
        return _page(path, items, params)


def _params(query: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding: `created[gte]=1` → {"created": {"gte": "1"}}, `types[0]=a` → lists."""
    params: dict[str, Any] = {}
    for key, value in query:
        match = re.fullmatch(r"([a-z_]+)\[([a-z_0-9]*)\]", key)
        if match is None:
            params[key] = value
        elif match[2] == "" or match[2].isdigit():
            params.setdefault(match[1], []).append(value)
        else:
            params.setdefault(match[1], {})[match[2]] = value
    return params


def _error(status: int, kind: str, message: str) -> tuple[int, Obj, dict]:
    return status, {"error": {"type": kind, "message": message}}, {}


def _page(path: str, items: list[Obj], params: dict[str, Any]) -> tuple[int, Obj, dict]:
    created = {op: int(v) for op, v in params.get("created", {}).items()}
    types = set(params.get("types", [])) | ({params["type"]} if "type" in params else set())
    selected = [
        item
        for item in items
        if (not types or item.get("type") in types)
        and item["created"] >= created.get("gte", item["created"])
        and item["created"] > created.get("gt", item["created"] - 1)
        and item["created"] <= created.get("lte", item["created"])
        and item["created"] < created.get("lt", item["created"] + 1)
    ]
    selected.sort(key=lambda item: (item["created"], item["id"]), reverse=True)  # newest first
    if "starting_after" in params:
        ids = [item["id"] for item in selected]
        if params["starting_after"] not in ids:
            return _error(400, "invalid_request_error", f"No such object: '{params['starting_after']}'")
        selected = selected[ids.index(params["starting_after"]) + 1 :]
    limit = min(int(params.get("limit", 10)), 100)
    body = {"object": "list", "data": selected[:limit], "has_more": len(selected) > limit, "url": path}
    return 200, body, {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeStripe

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        status, body, headers = self.fake.answer(
            url.path, parse_qsl(url.query), self.headers.get("Authorization", "")
        )
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_fake{len(self.fake.requests):06d}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet in tests
        pass


@contextmanager
def serve(fake: FakeStripe) -> Iterator[FakeStripe]:
    """Run `fake` on a free port of 127.0.0.1 for the block; `fake.url` is its address."""
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
