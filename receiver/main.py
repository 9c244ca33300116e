"""Builds the receiver app: `create_app(settings)` (also the uvicorn `--factory` entry point)."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from attro.program import load_program
from attro.settings import Settings
from receiver.landing import LandingWriter
from receiver.routes import api_router

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


def create_app(settings: Settings | None = None) -> FastAPI:
    """The receiver for `settings` (ATTRO_* when None); ProgramError for a bad program file."""
    settings = settings if settings is not None else Settings()
    program = load_program(settings.program_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.event_writer = LandingWriter(settings.landing_dir, EVENTS_STREAM)
        app.state.click_writer = LandingWriter(settings.landing_dir, CLICKS_STREAM)
        try:
            yield
        finally:
            app.state.event_writer.close()
            app.state.click_writer.close()

    app = FastAPI(
        title="Attro receiver",
        summary="Stripe webhooks and affiliate clicks, landed as NDJSON",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.program = program
    app.state.ip_salt = settings.ip_salt  # read (or created) once, not on every click
    app.include_router(api_router)
    _ensure_log_output()
    return app
