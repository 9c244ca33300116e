"""The landed click record (contract fields), built alike by the redirect and the bulk API."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import UTC, datetime
from typing import Any, Literal

from core.contracts import UTM_FIELDS
from core.landing_records import utc_timestamp
from core.program import Link
from receiver.bots import is_bot

# The longest user agent, referer, landing URL or UTM value kept (the clicks API refuses longer ones): a
# visitor's request head may be bigger, and what it sends is not all worth storing.
MAX_TEXT_CHARS = 8192


def _bounded(text: str | None) -> str | None:
    return text[:MAX_TEXT_CHARS] if text is not None else None


def hash_ip(salt: bytes, ip: str | None) -> str | None:
    """HMAC-SHA256 of the IP in its canonical form (hex); the raw address is never stored."""
    if not ip:
        return None
    try:
        canonical = str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        canonical = ip.strip()  # e.g. "testclient" or a unix socket peer: hash what we got
    return hmac.new(salt, canonical.encode(), hashlib.sha256).hexdigest()


def click_record(
    *,
    click_id: str,
    clicked_at: datetime,
    source: Literal["redirect", "api"],
    link: Link,
    ip_hash: str | None,
    user_agent: str | None,
    referer: str | None,
    landing_url: str | None,
    utm: dict[str, str | None],
    received_at: datetime | None = None,
) -> dict[str, Any]:
    """One `clicks` landing record; affiliate and offer are the link's at click time; texts cut to
    MAX_TEXT_CHARS."""
    return {
        "click_id": click_id,
        "clicked_at": utc_timestamp(clicked_at),
        "received_at": utc_timestamp(received_at or datetime.now(UTC)),
        "source": source,
        "link_code": link.code,
        "affiliate_id": link.affiliate,
        "offer_id": link.offer,
        "ip_hash": ip_hash,
        "user_agent": _bounded(user_agent),
        "referer": _bounded(referer),
        "landing_url": _bounded(landing_url),
        **{f"utm_{name}": _bounded(utm.get(name)) for name in UTM_FIELDS},
        # A browser always sends a user agent, so a redirect without one is a bot; an imported
        # edge-log record may simply not carry the field, which says nothing about the visitor.
        "is_bot": is_bot(user_agent) if (user_agent or source == "redirect") else False,
    }
