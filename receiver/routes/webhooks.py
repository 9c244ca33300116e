"""POST /api/webhooks/stripe: verify the Stripe signature (any configured secret), land it."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import stripe
from fastapi import APIRouter, HTTPException, Request, status

from receiver.body import read_limited_body
from receiver.deps import EventWriterDep, SettingsDep
from receiver.landing import LandingError, utc_timestamp
from receiver.logs import log_json

router = APIRouter(tags=["webhooks"])
logger = logging.getLogger(__name__)


class WebhookRejected(Exception):
    """The request is not a verified Stripe event; `reason` is safe to return and log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _signature_timestamp(header: str) -> int:
    """The `t=` of a Stripe-Signature header; WebhookRejected when the header is malformed."""
    items = [part.split("=", 1) for part in header.split(",")]
    timestamps = [kv[1].strip() for kv in items if len(kv) == 2 and kv[0].strip() == "t"]
    has_v1 = any(len(kv) == 2 and kv[0].strip() == "v1" and kv[1].strip() for kv in items)
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not has_v1:
        raise WebhookRejected("malformed Stripe-Signature header (expected t=<unix>,v1=<hex>)")
    return int(timestamps[0])


def verify_stripe_event(
    payload: str, header: str | None, signing_secrets: list[str], tolerance: int
) -> dict[str, Any]:
    """Check the signature against each secret (rotation) and the event's shape; return the event.

    `tolerance` <= 0 switches both timing checks off, as it does the library's age check.
    """
    if not header:
        raise WebhookRejected("missing Stripe-Signature header")
    timestamp = _signature_timestamp(header)
    for secret in signing_secrets:
        try:
            stripe.Webhook.construct_event(payload, header, secret, tolerance=tolerance)
        except stripe.SignatureVerificationError as exc:
            message = str(exc)
            if message.startswith("No signatures found matching"):
                continue  # maybe signed with the other secret of a rotation
            if message.startswith("Timestamp outside the tolerance zone"):
                raise WebhookRejected(
                    f"timestamp too old (more than {tolerance} s; replayed or delayed event)"
                ) from None
            raise WebhookRejected("invalid Stripe-Signature header") from None
        except (ValueError, TypeError, AttributeError, KeyError):
            # Signature valid but the library could not build an Event (not JSON, not an object,
            # a thin v2 notification): our own checks below give the precise reason.
            pass
        break
    else:
        raise WebhookRejected("no signature matches a configured webhook secret")
    if tolerance > 0 and timestamp > time.time() + tolerance:
        raise WebhookRejected(f"timestamp in the future (more than {tolerance} s ahead)")
    try:
        event = json.loads(payload)
    except ValueError:
        raise WebhookRejected("body is not JSON") from None
    problem = _event_shape_problem(event)
    if problem:
        raise WebhookRejected(f"not a Stripe event: {problem}")
    return event


def _event_shape_problem(event: Any) -> str | None:
    if not isinstance(event, dict):
        return "body is not a JSON object"
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id.startswith("evt_"):
        return "'id' must be a string starting with 'evt_'"
    if event.get("object") != "event":
        return "'object' must be 'event'"
    if not isinstance(event.get("type"), str) or not event["type"]:
        return "'type' missing"
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return "'data.object' missing"
    created = event.get("created")
    if not isinstance(created, int) or isinstance(created, bool):
        return "'created' must be an integer timestamp"
    return None


@router.post("/api/webhooks/stripe")
async def receive_stripe_webhook(
    request: Request, settings: SettingsDep, writer: EventWriterDep
) -> dict[str, Any]:
    """Land a verified Stripe event; 200 only once it is fsynced (Stripe retries otherwise)."""
    signing_secrets = settings.webhook_secrets
    if not signing_secrets:
        log_json(logger, logging.ERROR, "stripe_webhook", outcome="no_secret_configured")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no webhook secret configured")
    body = await read_limited_body(request, settings.max_body_bytes)
    try:
        payload = body.decode("utf-8")
        event = verify_stripe_event(
            payload,
            request.headers.get("stripe-signature"),
            signing_secrets,
            settings.webhook_tolerance_seconds,
        )
    except UnicodeDecodeError:
        raise _rejected("body is not UTF-8 text") from None
    except WebhookRejected as exc:
        raise _rejected(exc.reason) from None

    record = {
        "event_id": event["id"],
        "event_type": event["type"],
        "api_version": event.get("api_version"),
        "livemode": bool(event.get("livemode", False)),
        "created": event["created"],
        "received_at": utc_timestamp(datetime.now(UTC)),
        "payload": payload,
    }
    try:
        await writer.append([record])
    except LandingError:
        log_json(
            logger,
            logging.ERROR,
            "stripe_webhook",
            outcome="landing_failed",
            event_id=event["id"],
            event_type=event["type"],
        )
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "event could not be stored durably; retry later"
        ) from None
    log_json(
        logger,
        logging.INFO,
        "stripe_webhook",
        outcome="landed",
        event_id=event["id"],
        event_type=event["type"],
    )
    return {"received": True, "event_id": event["id"], "type": event["type"]}


def _rejected(reason: str) -> HTTPException:
    log_json(logger, logging.WARNING, "stripe_webhook", outcome="rejected", reason=reason)
    return HTTPException(status.HTTP_400_BAD_REQUEST, reason)
