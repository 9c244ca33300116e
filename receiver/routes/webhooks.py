"""POST /api/webhooks/stripe: hand the delivery to the events lander, which verifies and lands it."""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from receiver.body import read_limited_body
from receiver.landing import LandingError, StripeEventWriter
from receiver.logs import annotate_request
from receiver.readiness import unplaced
from receiver.signature import WebhookRejected
from receiver.stripe_events import Delivery

router = APIRouter(tags=["webhooks"])

# Declared so the OpenAPI schema (and schemathesis) knows the endpoint takes a JSON body; the
# handler reads the raw bytes itself, because the signature covers them exactly as sent.
_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    "parameters": [
        {"name": "Stripe-Signature", "in": "header", "required": True, "schema": {"type": "string"}}
    ],
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the event is durably landed (also for a duplicate delivery)",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["received", "event_id", "type"],
                    "properties": {
                        "received": {"type": "boolean"},
                        "event_id": {"type": "string"},
                        "type": {"type": "string"},
                    },
                }
            }
        },
    },
    400: {"description": "missing or invalid signature, stale or future timestamp, not a Stripe event"},
    413: {"description": "body larger than ATTRO_MAX_BODY_BYTES"},
    503: {"description": "no usable signing secret (the reason says why), or the event could not be landed"},
}


@router.post("/api/webhooks/stripe", openapi_extra=_OPENAPI, responses=_RESPONSES)
async def receive_stripe_webhook(request: Request) -> Response:
    """Land a verified Stripe event; 200 only once it is fsynced (Stripe retries otherwise)."""
    try:
        return await _receive(request)
    except HTTPException as exc:
        # counted for the admin's health page (core/refusals.py): the log line alone is kept nowhere
        request.app.state.refusal_counter.add(str(exc.detail), exc.status_code)
        raise


async def _receive(request: Request) -> Response:
    state = request.app.state
    signing_secrets: list[str] = state.signing_secrets.current()
    if not signing_secrets:
        # Stripe shows this body in its dashboard: name the cause (no secret, wrong key, unreadable store).
        # Its paths named by their setting, as /healthz does: the log line has them whole.
        reason = state.signing_secrets.why_none()
        annotate_request(request, event="stripe_webhook", outcome="no_usable_secret", reason=reason)
        public = unplaced(reason, state.settings)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"cannot verify webhooks: {public}")
    settings = state.settings
    annotate_request(request, event="stripe_webhook", outcome="rejected")  # until proven otherwise
    body = await read_limited_body(request, settings.max_body_bytes)
    delivery = Delivery(
        body=body,
        signature_header=request.headers.get("stripe-signature"),
        signing_secrets=signing_secrets,
        tolerance_seconds=settings.webhook_tolerance_seconds,
        received_at=time.time(),
    )
    writer: StripeEventWriter = state.event_writer
    try:
        landed = await writer.land(delivery)  # verified and parsed in the landing process
    except WebhookRejected as exc:
        annotate_request(request, reason=exc.reason)  # event and outcome are set above
        raise HTTPException(status.HTTP_400_BAD_REQUEST, exc.reason) from None
    except LandingError as exc:
        annotate_request(request, outcome="landing_failed")
        cause = unplaced(str(exc), settings)  # Stripe's dashboard shows it: the cause, not our paths
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"event could not be stored durably ({cause}); retry later"
        ) from None
    annotate_request(request, event_id=landed.event_id, event_type=landed.event_type, outcome="landed")
    answer = {"received": True, "event_id": landed.event_id, "type": landed.event_type}
    return Response(orjson.dumps(answer), media_type="application/json")
