"""Stripe-Signature verification: header parsing, HMAC-SHA256 against each secret, both time bounds."""

from __future__ import annotations

import time
from typing import Any

import orjson
from stripe import WebhookSignature

from receiver.event_values import event_value_problem

# A Stripe header holds a timestamp and one v1 signature per active endpoint secret; more than this
# is not Stripe, and bounding it bounds the work an attacker can ask for.
MAX_SIGNATURES = 8
_MAX_TIMESTAMP_DIGITS = 12


class WebhookRejected(Exception):
    """The request is not a verified Stripe event; `reason` is safe to return and log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_signature_header(header: str) -> tuple[int, list[bytes]]:
    """(`t`, the `v1` signatures as ASCII bytes) of a Stripe-Signature header, else WebhookRejected.

    Other schemes (`v0`, future ones) are ignored, as Stripe's own libraries do.
    """
    timestamps: list[str] = []
    signatures: list[bytes] = []
    for part in header.split(","):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            if key in ("t", "v1"):  # a bare `t` or `v1` is no Stripe header (Stripe's parser fails too)
                raise WebhookRejected(f"malformed Stripe-Signature header ({key!r} without a value)")
            continue
        if key == "t":
            timestamps.append(value)
        elif key == "v1" and value:
            if not value.isascii():
                raise WebhookRejected("malformed Stripe-Signature header (signature is not hex)")
            signatures.append(value.encode("ascii"))
    if (
        len(timestamps) != 1
        or not (timestamps[0].isascii() and timestamps[0].isdigit())
        or len(timestamps[0]) > _MAX_TIMESTAMP_DIGITS
        or not signatures
    ):
        raise WebhookRejected("malformed Stripe-Signature header (expected t=<unix>,v1=<hex>)")
    if len(signatures) > MAX_SIGNATURES:
        raise WebhookRejected(f"malformed Stripe-Signature header (more than {MAX_SIGNATURES} signatures)")
    return int(timestamps[0]), signatures


def verify_signature(
    body: bytes, header: str | None, signing_secrets: list[str], tolerance: int, now: float | None = None
) -> int:
    """Check the header against every secret (rotation) and the time bounds; return its timestamp.

    The header is pre-checked here (bounded, ASCII, one timestamp) so hostile input never reaches the
    library in a shape it mishandles; the signature itself is checked by the official `stripe`
    library (`WebhookSignature.verify_header`, constant-time compare). `tolerance` <= 0 switches both
    time checks off (for replaying recorded fixtures). Unlike the library, a timestamp more than
    `tolerance` in the future is refused too.
    """
    if not header:
        raise WebhookRejected("missing Stripe-Signature header")
    timestamp, _ = parse_signature_header(header)
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected("body is not UTF-8 text") from None
    matched = False
    for secret in signing_secrets:
        try:
            WebhookSignature.verify_header(payload, header, secret)  # age is checked below
            matched = True
        except Exception:  # noqa: BLE001 - any failure of the library is a refusal, never a pass
            continue
    if not matched:
        raise WebhookRejected("no signature matches a configured webhook secret")
    if tolerance > 0:
        current = time.time() if now is None else now
        if timestamp < current - tolerance:
            raise WebhookRejected(f"timestamp too old (more than {tolerance} s; replayed or delayed event)")
        if timestamp > current + tolerance:
            raise WebhookRejected(f"timestamp in the future (more than {tolerance} s ahead)")
    return timestamp


def parse_event(body: bytes, received_at: float) -> tuple[str, dict[str, Any]]:
    """(payload text, event) of a verified body, or WebhookRejected saying what it lacks.

    The body must be strict JSON as orjson reads it: no lone surrogate escape, no NaN or Infinity, no
    number beyond a double, at most 1024 levels deep. What it refuses, DuckDB or Polars refuse later
    too, and Stripe never sends it. `received_at` (Unix seconds) bounds the event's times.
    """
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected("body is not UTF-8 text") from None
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError as exc:  # its message names the problem and position, never the text
        raise WebhookRejected(f"body is not JSON ({exc})") from None
    problem = event_shape_problem(event) or event_value_problem(event, received_at)
    if problem:
        raise WebhookRejected(f"not a Stripe event: {problem}")
    return payload, event


def event_shape_problem(event: Any) -> str | None:
    """None for a Stripe v1 event object, else what is wrong with it."""
    if not isinstance(event, dict):
        return "body is not a JSON object"
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id.startswith("evt_") or len(event_id) > 255:
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
    if "livemode" in event and not isinstance(event["livemode"], bool):  # "false" would read as live
        return "'livemode' must be true or false"
    return None
