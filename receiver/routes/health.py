"""GET /healthz: 200 when webhooks can be verified and every landing folder takes durable writes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from receiver import readiness

router = APIRouter(tags=["health"])


@router.api_route(
    "/healthz",
    methods=["GET", "HEAD"],  # uptime monitors often ask with HEAD
    responses={503: {"description": "no usable webhook secret, or a landing folder takes no durable writes"}},
)
def healthz(request: Request) -> JSONResponse:
    """`{"ok": true}`, with `warnings` (a list of sentences) when something configured does not work
    but webhooks do: no API token, a program file that changed but cannot be used."""
    # A plain def: FastAPI runs it in a worker thread, so the probe's fsync never blocks the loop.
    state = request.app.state
    problems = []
    if problem := readiness.webhook_problem(state):
        # A receiver that answers every webhook 503 is down for Stripe, whatever its disk says.
        problems.append(problem)
    writers = (state.event_writer, state.click_writer)
    problems += [p for p in (w.check_writable() for w in writers) if p is not None]
    content: dict[str, Any] = {"ok": not problems}
    if problems:
        content["detail"] = readiness.unplaced("; ".join(problems), state.settings)
    if warnings := readiness.warnings(state, public=True):
        content["warnings"] = [readiness.unplaced(warning, state.settings) for warning in warnings]
    code = status.HTTP_503_SERVICE_UNAVAILABLE if problems else status.HTTP_200_OK
    return JSONResponse(status_code=code, content=content)
