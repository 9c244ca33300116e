"""Builds the web app: `create_app(settings)` (also the uvicorn `--factory` entry point of `attro web`)."""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.heap import freeze_if_serving
from core.settings import Settings
from receiver.logs import RequestLogMiddleware
from receiver.program_file import ProgramFile
from web.deps import PortalSignInRequired, SignInRequired, WebParts
from web.keys import SigningKey
from web.passwords import AdminPassword
from web.ratelimit import LoginLimiter
from web.rendering import STATIC_DIR, templates
from web.routes import admin, portal
from web.sessions import SessionCookie
from web.signed_out import SignedOutSessions
from web.warehouse import PublishedWarehouse, WarehouseMissing

logger = logging.getLogger("web")
ADMIN_SESSION_SECONDS = 12 * 3600

# Pages load only their own scripts and styles; no page may be framed; no Referer carries a URL away.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' https:; frame-ancestors 'none'; "
        b"form-action 'self'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class VersionedStatic(StaticFiles):
    """The stylesheet and script. Pages link them by content hash (web.rendering.static_url), so a
    versioned request is cached for a year; any other is revalidated each time (SECURITY_HEADERS'
    no-store would make the browser fetch them again for every page)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        versioned = "v" in parse_qs(scope.get("query_string", b"").decode("latin-1"))
        response.headers["cache-control"] = "public, max-age=31536000, immutable" if versioned else "no-cache"
        return response


class SecurityHeaders:
    """Pure ASGI middleware adding SECURITY_HEADERS to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *[(n, v) for n, v in SECURITY_HEADERS if n not in names],
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def admin_password(settings: Settings) -> AdminPassword:
    """The admin password from ATTRO_ADMIN_PASSWORD; a plain one is hashed here, with a warning."""
    password = AdminPassword.from_setting(settings.admin_password)
    if password.was_plain:
        logger.warning(
            "ATTRO_ADMIN_PASSWORD holds a plain password; it was hashed in memory. Store the hash"
            " `attro web hash-password` prints instead"
        )
    elif password.encoded is None:
        logger.warning("ATTRO_ADMIN_PASSWORD is not set: the admin pages refuse every sign-in")
    return password


def build_parts(settings: Settings) -> WebParts:
    key = SigningKey(settings)
    secure = settings.cookie_secure
    return WebParts(
        settings=settings,
        warehouse=PublishedWarehouse(settings.warehouse_path),
        program_file=ProgramFile(settings.program_path),
        templates=templates(),
        password=admin_password(settings),
        limiter=LoginLimiter(),
        admin_cookie=SessionCookie(
            "attro_admin", "/admin", ADMIN_SESSION_SECONDS, "attro.admin", secure, key
        ),
        portal_cookie=SessionCookie("attro_portal", "/portal", 366 * 86_400, "attro.portal", secure, key),
        signing_key=key,
        signed_out=SignedOutSessions(settings.state_dir),
    )


def _ensure_log_output() -> None:
    for name in ("web", "receiver"):
        log = logging.getLogger(name)
        if not log.handlers and not logging.getLogger().handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    freeze_if_serving()  # start-up is over: what it made stays for the life of the process
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    """The admin and portal for `settings` (ATTRO_* when None); ProgramError for a bad program file,
    PasswordError for an ATTRO_ADMIN_PASSWORD that looks like a hash but is not one."""
    settings = settings if settings is not None else Settings()
    _ensure_log_output()
    app = FastAPI(title="Attro web", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_lifespan)
    app.state.parts = build_parts(settings)
    app.include_router(admin.router)
    app.include_router(portal.router)
    app.mount("/static", VersionedStatic(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/portal", status.HTTP_303_SEE_OTHER)

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.method == "GET":
            return RedirectResponse("/admin/login", status.HTTP_303_SEE_OTHER)
        return HTMLResponse("sign in first", status.HTTP_401_UNAUTHORIZED)

    @app.exception_handler(PortalSignInRequired)
    async def portal_sign_in(request: Request, exc: PortalSignInRequired) -> Response:
        return portal.signed_out_page(request, status.HTTP_401_UNAUTHORIZED)

    @app.exception_handler(WarehouseMissing)
    async def no_warehouse(request: Request, exc: WarehouseMissing) -> Response:
        return HTMLResponse(
            "<!doctype html><title>No data yet</title><p>No published warehouse yet: run "
            "<code>attro run</code> once and reload.</p>",
            status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.exception_handler(RequestValidationError)
    async def unreadable_address(request: Request, exc: RequestValidationError) -> Response:
        # A page asked with a value it cannot read (`?page=abc`, a hand-edited link): a page that says
        # which, not FastAPI's JSON; a form's POST keeps the JSON answer (a browser never sends one).
        if request.method not in ("GET", "HEAD"):
            return await request_validation_exception_handler(request, exc)
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'][1:]) or 'the address'}: {error['msg']}"
            for error in exc.errors()
        )
        return HTMLResponse(
            '<!doctype html><html lang="en"><title>Cannot read this address</title><p>This page\'s address'
            f" has a value it cannot read ({html.escape(problems)}). Go back and follow a link on the"
            " page instead.</p></html>",
            status.HTTP_400_BAD_REQUEST,
        )

    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestLogMiddleware)  # one JSON line per request, path only (never the query)
    return app
