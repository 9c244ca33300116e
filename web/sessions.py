"""Signed session cookies (itsdangerous) with a per-session CSRF token, for the admin and the portal.

A session is a small signed dict in a cookie — `HttpOnly; SameSite=Strict; Secure` (ATTRO_COOKIE_SECURE)
with a path per area — so no session store is needed and a restart signs nobody out. Every form
carries the session's `csrf_token`, checked on every POST; a visitor without a session gets an
anonymous one (the login form is a form too).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer


@dataclass
class Session:
    """What a cookie holds; `changed` says the response must set it again."""

    data: dict[str, Any] = field(default_factory=dict)
    changed: bool = False

    @property
    def csrf_token(self) -> str:
        return str(self.data.get("csrf", ""))

    def csrf_matches(self, token: str | None) -> bool:
        return bool(token) and bool(self.csrf_token) and hmac.compare_digest(self.csrf_token, token or "")

    @classmethod
    def new(cls, **data: Any) -> Session:
        """A fresh session (a new CSRF token: signing in never keeps the anonymous one)."""
        return cls({"csrf": secrets.token_urlsafe(24), "iat": int(time.time()), **data}, changed=True)


@dataclass(frozen=True)
class SessionCookie:
    """One area's cookie: its name, path, lifetime and signing salt."""

    name: str
    path: str
    max_age_seconds: int
    salt: str
    secure: bool
    key: Callable[[], str]  # the signing key in use now (web/keys.py SigningKey)

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.key(), salt=self.salt)

    def read(self, request: Request) -> Session | None:
        """The request's session, or None when it has none or a forged, tampered or expired one."""
        raw = request.cookies.get(self.name)
        if not raw:
            return None
        try:
            data = self._serializer().loads(raw, max_age=self.max_age_seconds)
        except BadSignature:  # SignatureExpired is one
            return None
        return Session(data) if isinstance(data, dict) else None

    def write(self, response: Response, session: Session, max_age: int | None = None) -> None:
        response.set_cookie(
            self.name,
            self._serializer().dumps(session.data),
            max_age=max_age if max_age is not None else self.max_age_seconds,
            path=self.path,
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(
            self.name, path=self.path, secure=self.secure, httponly=True, samesite="strict"
        )
