"""Reading request bodies with a size limit, refusing oversized ones before they are read whole."""

from __future__ import annotations

from fastapi import HTTPException, Request, status
from starlette.requests import ClientDisconnect


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The raw body, or 413 when Content-Length or the streamed byte count exceeds `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_size = int(declared)
        except ValueError:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "invalid Content-Length") from None
        if declared_size > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:  # a chunked or lying client: stop reading as soon as it goes over
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        # Gone before the body was whole (or cut off by ATTRO_BODY_TIMEOUT_SECONDS, the server has
        # answered 408): nothing to land, nobody to answer; the request log says why.
        raise HTTPException(status.HTTP_408_REQUEST_TIMEOUT, "the body did not arrive whole") from None
    return b"".join(chunks)


def _too_large(limit: int) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"request body larger than {limit} bytes")
