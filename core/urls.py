"""URL checks the settings and the program file share: where the receiver may send a visitor."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_absolute_http_url(value: str) -> bool:
    """True for `http(s)://host/...`: a scheme the browser follows and a host, so a redirect to it
    can only ever reach the site it names."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
