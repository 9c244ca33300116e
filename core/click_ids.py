"""Click ids: 30 Crockford base32 characters, 50 bits of milliseconds then 100 random bits."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford; ASCII order == numeric order
_TIME_CHARS = 10
_RANDOM_CHARS = 20
CLICK_ID_PATTERN = re.compile(rf"^[{_ALPHABET}]{{{_TIME_CHARS + _RANDOM_CHARS}}}$")


def _encode(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_click_id(at: datetime | None = None) -> str:
    """A new click id; ids sort by creation time (millisecond resolution)."""
    millis = int((at.timestamp() if at else time.time()) * 1000)
    return _encode(millis, _TIME_CHARS) + _encode(secrets.randbits(5 * _RANDOM_CHARS), _RANDOM_CHARS)


def is_click_id(value: object) -> bool:
    """True for a string in our click id format (anything else is not one of ours)."""
    return isinstance(value, str) and CLICK_ID_PATTERN.fullmatch(value) is not None


def click_id_time(click_id: str) -> datetime:
    """The creation time encoded in a click id."""
    millis = 0
    for char in click_id[:_TIME_CHARS]:
        millis = millis * 32 + _ALPHABET.index(char)
    return datetime.fromtimestamp(millis / 1000, tz=UTC)
