"""FastAPI dependencies: the app's parts, the admin and portal sessions, the CSRF check."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request, status
from fastapi.templating import Jinja2Templates

from core.program import Program
from core.settings import Settings
from receiver.program_file import ProgramFile
from web.keys import SigningKey
from web.passwords import AdminPassword
from web.ratelimit import LoginLimiter
from web.sessions import Session, SessionCookie
from web.signed_out import SignedOutSessions
from web.warehouse import PublishedWarehouse


@dataclass(frozen=True)
class WebParts:
    """What `create_app` builds once and every request shares."""

    settings: Settings
    warehouse: PublishedWarehouse
    program_file: ProgramFile
    templates: Jinja2Templates
    password: AdminPassword
    limiter: LoginLimiter
    admin_cookie: SessionCookie
    portal_cookie: SessionCookie
    signing_key: SigningKey
    signed_out: SignedOutSessions


def get_parts(request: Request) -> WebParts:
    return request.app.state.parts


Parts = Annotated[WebParts, Depends(get_parts)]


def get_program(parts: Parts) -> Program:
    return parts.program_file.current()


ProgramDep = Annotated[Program, Depends(get_program)]


class SignInRequired(Exception):
    """No admin session: GET pages redirect to the login form, anything else is 401."""


class PortalSignInRequired(Exception):
    """No portal session: the affiliate is told to use the link the program sent."""


def admin_session(request: Request, parts: Parts) -> Session:
    session = parts.admin_cookie.read(request)
    if session is None or session.data.get("admin") is not True:
        raise SignInRequired()
    if session.data.get("pw") != parts.password.fingerprint or parts.password.encoded is None:
        raise SignInRequired()  # the password changed (or the admin was switched off) since sign-in
    if session in parts.signed_out:
        raise SignInRequired()  # a copy of a cookie whose session signed out
    return session


AdminSession = Annotated[Session, Depends(admin_session)]


@dataclass(frozen=True)
class Affiliate:
    """The signed-in affiliate: every portal query takes its id from here, never from the request."""

    id: str
    name: str
    session: Session


def portal_affiliate(request: Request, parts: Parts, program: ProgramDep) -> Affiliate:
    session = parts.portal_cookie.read(request)
    if session is None:
        raise PortalSignInRequired()
    affiliate_id, expires = session.data.get("affiliate"), session.data.get("exp")
    if not isinstance(affiliate_id, str) or not isinstance(expires, int) or expires <= time.time():
        raise PortalSignInRequired()
    if session in parts.signed_out:
        raise PortalSignInRequired()
    affiliate = next((a for a in program.affiliates if a.id == affiliate_id), None)
    if affiliate is None:
        raise PortalSignInRequired()  # no longer in the program file
    return Affiliate(affiliate.id, affiliate.name, session)


PortalAffiliate = Annotated[Affiliate, Depends(portal_affiliate)]


def check_csrf(session: Session, token: str | None) -> None:
    if not session.csrf_matches(token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form is stale or did not come from this site")


CsrfToken = Annotated[str | None, Form()]
