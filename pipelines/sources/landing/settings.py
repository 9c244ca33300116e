"""Landing streams: their folders, record fields (derived from core.contracts) and primary keys."""

from __future__ import annotations

import pyarrow as pa

from core.contracts import LANDED_RECORDS, LANDED_TIMESTAMPS, PRIMARY_KEYS, REQUIRED_FIELDS, arrow_schema

STREAMS = tuple(LANDED_RECORDS)

# Field types as landed (timestamps are RFC 3339 strings; converted while loading).
LANDED_FIELDS: dict[str, pa.Schema] = {
    stream: arrow_schema(fields) for stream, fields in LANDED_RECORDS.items()
}

__all__ = ["LANDED_FIELDS", "LANDED_TIMESTAMPS", "PRIMARY_KEYS", "REQUIRED_FIELDS", "STREAMS"]
