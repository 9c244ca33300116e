"""Refuses, inside the app, a request whose head is over ATTRO_MAX_HEADER_BYTES: 431.

What actually stops a huge head is the server's protocol (receiver/serving.py), before the head is
buffered. This is the same limit for a receiver served any other way (a bare `uvicorn`, the test
client), so no route ever works on a bigger head than the server would let through.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


def head_size(scope: Scope) -> int:
    """Bytes of the request line's target and the headers (a little under their size on the wire)."""
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    return size + sum(len(name) + len(value) + 4 for name, value in scope["headers"])  # ": " and CRLF


class RequestHeadLimit:
    """Pure ASGI middleware: 431 for a head over `max_bytes`, before any route reads it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and head_size(scope) > self.max_bytes:
            refusal = JSONResponse(
                {"detail": f"request head larger than {self.max_bytes} bytes"}, status_code=431
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)
