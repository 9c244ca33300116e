"""GET /healthz: 200 when every landing folder takes durable writes, else 503 with the reason."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", responses={503: {"description": "a landing folder does not take durable writes"}})
def healthz(request: Request) -> JSONResponse:
    # A plain def: FastAPI runs it in a worker thread, so the probe's fsync never blocks the loop.
    writers = (request.app.state.event_writer, request.app.state.click_writer)
    problems = [p for p in (w.check_writable() for w in writers) if p is not None]
    if problems:
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"ok": False, "detail": "; ".join(problems)},
        )
    return JSONResponse({"ok": True})
