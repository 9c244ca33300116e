"""URL checks the settings and the program file share: where the receiver may send a visitor."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_absolute_http_url(value: str) -> bool:
    """True for `http(s)://host/...`: a scheme the browser follows and a host, so a redirect to it
    can only ever reach the site it names. No spaces or control characters (a browser would drop or
    mangle them), no user or password (every visitor would be handed them), a port that exists."""
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return False
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.username is None
        and parts.password is None
    )
