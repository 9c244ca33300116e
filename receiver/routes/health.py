"""GET /healthz: 200 when webhooks can be verified and every landing folder takes durable writes."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    responses={503: {"description": "no usable webhook secret, or a landing folder takes no durable writes"}},
)
def healthz(request: Request) -> JSONResponse:
    # A plain def: FastAPI runs it in a worker thread, so the probe's fsync never blocks the loop.
    state = request.app.state
    problems = []
    if not state.signing_secrets.current():
        # A receiver that answers every webhook 503 is down for Stripe, whatever its disk says.
        problems.append(f"cannot verify webhooks: {state.signing_secrets.why_none()}")
    writers = (state.event_writer, state.click_writer)
    problems += [p for p in (w.check_writable() for w in writers) if p is not None]
    if problems:
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"ok": False, "detail": "; ".join(problems)},
        )
    return JSONResponse({"ok": True})
