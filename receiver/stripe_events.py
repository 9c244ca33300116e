"""A Stripe webhook delivery, from the signed request to its `stripe_events` landing line.

The receiver packs what it got (body, Stripe-Signature header, the secrets current at that moment,
the tolerance, the time of arrival) with `pack_delivery`; the events landing process
(`receiver.lander`) unpacks it and calls `landing_line`, which verifies the signature, parses the
event and builds the record. Doing that there rather than in the event loop puts the receiver's
heaviest per-webhook work (HMAC over the body, JSON parse, encoding) on another core.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from core.landing_records import encode_record, stripe_event_record
from receiver.signature import parse_event, verify_signature

# received_at (Unix seconds), tolerance (seconds), header length, secrets length; then the header
# (Latin-1, as HTTP headers are), the secrets (NUL separated: no environment value or stored
# secret can hold a NUL) and the body exactly as sent.
_DELIVERY = struct.Struct("!dqII")


@dataclass(frozen=True)
class Delivery:
    """One webhook request as the receiver got it."""

    body: bytes
    signature_header: str | None
    signing_secrets: list[str]
    tolerance_seconds: int
    received_at: float  # Unix seconds


@dataclass(frozen=True)
class LandingLine:
    """The NDJSON line of a verified event, and what the receiver answers and logs about it."""

    line: bytes
    event_id: str
    event_type: str


def pack_delivery(delivery: Delivery) -> bytes:
    """The bytes `unpack_delivery` reads back."""
    header = b"" if delivery.signature_header is None else delivery.signature_header.encode("latin-1")
    secrets = "\0".join(delivery.signing_secrets).encode("utf-8")
    head = _DELIVERY.pack(delivery.received_at, delivery.tolerance_seconds, len(header), len(secrets))
    return b"".join((head, header, secrets, delivery.body))


def unpack_delivery(data: bytes) -> Delivery:
    """The delivery `pack_delivery` packed; ValueError when `data` is not one."""
    if len(data) < _DELIVERY.size:
        raise ValueError("delivery frame too short")
    received_at, tolerance, header_size, secrets_size = _DELIVERY.unpack_from(data)
    header_end = _DELIVERY.size + header_size
    secrets_end = header_end + secrets_size
    if secrets_end > len(data):
        raise ValueError("delivery frame lengths exceed the frame")
    header = data[_DELIVERY.size : header_end].decode("latin-1") if header_size else None
    secrets = data[header_end:secrets_end].decode("utf-8")
    return Delivery(
        body=data[secrets_end:],
        signature_header=header,
        signing_secrets=secrets.split("\0") if secrets else [],
        tolerance_seconds=tolerance,
        received_at=received_at,
    )


def landing_line(delivery: Delivery) -> LandingLine:
    """The landing line of a delivery whose signature and event check out, else WebhookRejected.

    The tolerance is measured from the moment the receiver got the request, not from now.
    """
    verify_signature(
        delivery.body,
        delivery.signature_header,
        delivery.signing_secrets,
        delivery.tolerance_seconds,
        now=delivery.received_at,
    )
    payload, event = parse_event(delivery.body, delivery.received_at)
    received_at = datetime.fromtimestamp(delivery.received_at, UTC)
    line = encode_record(stripe_event_record(event, payload, received_at))
    return LandingLine(line=line, event_id=event["id"], event_type=event["type"])
