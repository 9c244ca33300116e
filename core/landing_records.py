"""Landing records as NDJSON lines: one compact UTF-8 JSON object per line, one time format.

Standard library and orjson only: the receiver's landing process imports this. The `stripe_events`
record is built here, so the receiver (webhooks) and the pipelines (events and objects read from the
Stripe API) land events in one format.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson

# Characters that str.splitlines() and some readers treat as line ends although JSON lets them
# stand unescaped inside strings; escaping them keeps every record on one line for any reader.
_LINE_BREAKERS = (("\x85", "\\u0085"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def dumps_record(record: dict[str, Any]) -> str:
    """One record as one NDJSON line (compact, UTF-8 kept as is, '\\n' terminated)."""
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    # str.replace, each only when needed: str.translate with a table costs ~1 ms per 5 KB payload.
    for char, escaped in _LINE_BREAKERS:
        if char in text:
            text = text.replace(char, escaped)
    return text + "\n"


_LINE_BREAKERS_UTF8 = tuple((c.encode(), e.encode()) for c, e in _LINE_BREAKERS)


def encode_record(record: dict[str, Any]) -> bytes:
    """`dumps_record(record)` as UTF-8 bytes, through orjson (several times faster on big payloads).

    Falls back to the standard library for what orjson refuses (integers over 64 bits, odd types),
    so both paths give the same line for every record.
    """
    try:
        data = orjson.dumps(record)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return dumps_record(record).encode("utf-8")
    if not data.isascii():  # all three are multi-byte in UTF-8; searching for them costs ~20 us
        for char, escaped in _LINE_BREAKERS_UTF8:
            if char in data:
                data = data.replace(char, escaped)
    return data + b"\n"


def utc_timestamp(at: datetime) -> str:
    """RFC 3339 UTC with microseconds and a 'Z', the landing zone's one time format."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# What `utc_timestamp` writes, as a Polars (chrono) parse format: the landing reader parses this form
# directly and rewrites only other RFC 3339 forms first.
UTC_TIMESTAMP_PARSE_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"


# Where a landed event came from: a verified webhook, Stripe's events API (`attro stripe sync`), or
# an object snapshot read by `attro stripe backfill` and landed as a synthetic event.
WEBHOOK, API, BACKFILL = "webhook", "api", "backfill"
EVENT_SOURCES = (WEBHOOK, API, BACKFILL)


def stripe_event_record(
    event: dict[str, Any], payload: str, received_at: datetime, source: str = WEBHOOK
) -> dict[str, Any]:
    """The `stripe_events` landing record of an event; `payload` is the event's JSON exactly as
    received (a webhook's body as Stripe signed it)."""
    return {
        "event_id": event["id"],
        "event_type": event["type"],
        "api_version": event.get("api_version"),
        "livemode": event.get("livemode") is True,  # only a real `true` is live: never payable by mistake
        "created": event["created"],
        "received_at": utc_timestamp(received_at),
        "payload": payload,
        "source": source,
    }
