"""Builds the receiver app: `create_app(settings)` (also the uvicorn `--factory` entry point)."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from core.program import load_program
from core.refusals import RefusalCounter
from core.settings import Settings
from receiver.landed_click_ids import LandedClickIds
from receiver.landing import LandingWriter, StripeEventWriter
from receiver.logs import RequestLogMiddleware
from receiver.request_head import RequestHeadLimit
from receiver.routes import routers
from receiver.signing_secrets import SigningSecrets

EVENTS_STREAM = "stripe_events"
CLICKS_STREAM = "clicks"


def _ensure_log_output() -> None:
    """Give the receiver's JSON log lines a stderr handler when nobody configured logging.

    Under a bare `uvicorn` only uvicorn's own loggers have handlers, so INFO lines would vanish.
    """
    receiver_logger = logging.getLogger("receiver")
    if receiver_logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    receiver_logger.addHandler(handler)
    receiver_logger.setLevel(logging.INFO)


def _silence_access_log() -> None:
    """uvicorn's access log prints client addresses and query strings; our request line replaces it."""
    logging.getLogger("uvicorn.access").disabled = True


async def _noop() -> dict[str, bool]:
    """The benchmark's baseline: the same server and middleware, no verification, no disk."""
    return {"ok": True}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The receiver for `settings` (ATTRO_* when None); ProgramError for a bad program file."""
    settings = settings if settings is not None else Settings()
    program = load_program(settings.program_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.event_writer = StripeEventWriter(settings.landing_dir, EVENTS_STREAM)
        app.state.click_writer = LandingWriter(settings.landing_dir, CLICKS_STREAM)
        try:
            yield
        finally:
            app.state.event_writer.close()
            app.state.click_writer.close()
            app.state.refusal_counter.flush()

    app = FastAPI(
        title="Attro receiver",
        summary="Stripe webhooks and affiliate clicks, landed as NDJSON",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.program = program
    app.state.ip_salt = settings.ip_salt  # read (or created) once, not on every click
    app.state.signing_secrets = SigningSecrets(settings)
    app.state.landed_click_ids = LandedClickIds()
    app.state.refusal_counter = RefusalCounter(settings)
    for router in routers:
        app.include_router(router)
    if settings.benchmark_noop_route:
        app.add_api_route("/_bench/noop", _noop, methods=["GET", "POST"], include_in_schema=False)
    app.add_middleware(RequestHeadLimit, max_bytes=settings.max_header_bytes)
    app.add_middleware(RequestLogMiddleware)  # added last, so outermost: refusals are logged too
    _ensure_log_output()
    _silence_access_log()
    return app
