"""Signing and delivering simulated events as Stripe does: the body, its `Stripe-Signature`, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from typing import Any

Event = dict[str, Any]


def sign_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send for this body: `t=<unix>,v1=<hex>`."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + payload, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def encode(event: Event) -> bytes:
    """The request body as Stripe sends it: indented JSON, non-ASCII kept as UTF-8."""
    return json.dumps(event, indent=2, ensure_ascii=False).encode("utf-8")


def signed_request(event: Event, secret: str, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """Body and headers of one webhook delivery of `event`, ready to POST."""
    body = encode(event)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": sign_header(body, secret, timestamp),
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }
    return body, headers


def deliveries(
    events: list[Event],
    *,
    rng: random.Random,
    duplicate_share: float = 0.0,
    shuffle: bool = False,
) -> list[Event]:
    """Stripe-like delivery: each event once, some twice (same object), optionally in any order.

    Without `shuffle` the originals keep their order and a duplicate (a retry) lands somewhere
    after its original.
    """
    out = list(events)
    for event in events:
        if duplicate_share > 0 and rng.random() < duplicate_share:
            first = next(i for i, e in enumerate(out) if e is event)
            out.insert(rng.randint(first + 1, len(out)), event)
    if shuffle:
        rng.shuffle(out)
    return out
