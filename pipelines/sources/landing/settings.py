"""Landing streams: their folders, record fields and the raw tables they load into."""

from __future__ import annotations

import pyarrow as pa

STREAMS = ("stripe_events", "clicks")

# Field types as landed (timestamps are RFC 3339 strings; converted while loading).
LANDED_FIELDS: dict[str, pa.Schema] = {
    "stripe_events": pa.schema(
        [
            ("event_id", pa.string()),
            ("event_type", pa.string()),
            ("api_version", pa.string()),
            ("livemode", pa.bool_()),
            ("created", pa.int64()),
            ("received_at", pa.string()),
            ("payload", pa.string()),
        ]
    ),
    "clicks": pa.schema(
        [
            ("click_id", pa.string()),
            ("clicked_at", pa.string()),
            ("received_at", pa.string()),
            ("source", pa.string()),
            ("link_code", pa.string()),
            ("affiliate_id", pa.string()),
            ("offer_id", pa.string()),
            ("ip_hash", pa.string()),
            ("user_agent", pa.string()),
            ("referer", pa.string()),
            ("landing_url", pa.string()),
            ("utm_source", pa.string()),
            ("utm_medium", pa.string()),
            ("utm_campaign", pa.string()),
            ("utm_term", pa.string()),
            ("utm_content", pa.string()),
            ("is_bot", pa.bool_()),
        ]
    ),
}

# A record without these is corrupt and quarantined.
REQUIRED_FIELDS = {
    "stripe_events": ("event_id", "event_type", "created", "received_at", "payload"),
    "clicks": ("click_id", "clicked_at", "link_code"),
}

PRIMARY_KEYS = {"stripe_events": "event_id", "clicks": "click_id"}
