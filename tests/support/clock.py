"""Times the tests speak in."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(text: str) -> datetime:
    """'2026-01-10' or '2026-01-10T09:30' as a UTC datetime (dates at 10:00, a quiet business hour)."""
    value = datetime.fromisoformat(text if "T" in text else text + "T10:00")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
