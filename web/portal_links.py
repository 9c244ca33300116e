"""Portal sign-in links: `attro portal link AFFILIATE [--days N]` signs the affiliate id and an expiry.

The token is itsdangerous-signed with the web's key (web/keys.py) and its own salt, so an admin
session cookie can never pass for a link, nor the reverse. A forged, tampered or expired token is
refused; deleting the key file voids every link handed out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlencode

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "attro.portal-link"
DEFAULT_DAYS = 30
MAX_DAYS = 366


class PortalLinkError(ValueError):
    """The token is not a valid, unexpired portal link."""


@dataclass(frozen=True)
class PortalGrant:
    affiliate_id: str
    expires_at: int  # Unix seconds


def make_token(key: str, affiliate_id: str, days: int = DEFAULT_DAYS, now: float | None = None) -> str:
    if not 1 <= days <= MAX_DAYS:
        raise PortalLinkError(f"--days must be between 1 and {MAX_DAYS}, got {days}")
    expires = int((time.time() if now is None else now) + days * 86_400)
    return URLSafeSerializer(key, salt=SALT).dumps({"a": affiliate_id, "exp": expires})


def read_token(key: str, token: str, now: float | None = None) -> PortalGrant:
    try:
        data = URLSafeSerializer(key, salt=SALT).loads(token)
    except BadSignature:
        raise PortalLinkError(
            "this sign-in link is not valid (altered, or from another installation)"
        ) from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("a"), str)
        or not isinstance(data.get("exp"), int)
    ):
        raise PortalLinkError("this sign-in link is not valid")
    if data["exp"] <= (time.time() if now is None else now):
        raise PortalLinkError("this sign-in link has expired: ask the program for a new one")
    return PortalGrant(data["a"], data["exp"])


def portal_url(base_url: str, token: str) -> str:
    """The link to hand out: the token in the query string (the request log never records queries)."""
    return f"{base_url.rstrip('/')}/portal/login?{urlencode({'token': token})}"
