"""Structured log lines: one JSON object per line via std logging; never secrets or raw IPs.

`RequestLogMiddleware` writes exactly one line per request: method, path (never the query string,
which may carry visitor data), status and duration, plus what the route added with
`annotate_request` (for webhooks: event id and outcome). Client addresses are never logged.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_MAX_LOGGED_PATH = 200
_FIELDS_KEY = "log_fields"

request_logger = logging.getLogger("receiver.requests")


def log_json(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log `{"event": event, **fields}` as one compact JSON line."""
    if logger.isEnabledFor(level):
        logger.log(level, json.dumps({"event": event, **fields}, default=str, ensure_ascii=False))


def annotate_request(request: Request, **fields: Any) -> None:
    """Add fields to this request's log line (e.g. event="stripe_webhook", outcome, event_id)."""
    request.scope.setdefault("state", {}).setdefault(_FIELDS_KEY, {}).update(fields)


class RequestLogMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware overhead): one JSON line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500  # if the app dies before answering, the server answers 500

        async def send_and_note(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            if request_logger.isEnabledFor(logging.INFO):
                line: dict[str, Any] = {
                    "event": "request",
                    "method": scope["method"],
                    "path": scope["path"][:_MAX_LOGGED_PATH],
                    "status": status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                }
                line.update(scope.get("state", {}).get(_FIELDS_KEY, {}))
                level = logging.INFO if status_code < 500 else logging.ERROR
                request_logger.log(level, json.dumps(line, default=str, ensure_ascii=False))
