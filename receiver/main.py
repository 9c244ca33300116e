"""Builds the receiver app: `create_app(settings)` (also the uvicorn `--factory` entry point)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.config import STARTUP_FAILURE

from core.heap import freeze_if_serving
from core.program import ProgramError
from core.refusals import RefusalCounter
from core.settings import Settings, SettingsError
from receiver.landed_click_ids import LandedClickIds
from receiver.landing import LandingWriter, StripeEventWriter
from receiver.logs import RequestLogMiddleware
from receiver.program_file import LAST_GOOD_PROGRAM, SUPERVISED_WORKER_ENV, ProgramFile
from receiver.request_head import RequestHeadLimit
from receiver.routes import routers
from receiver.routes.links import unmatched_path
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


async def _flush_refusals(counter: RefusalCounter) -> None:
    """Write counts a burst left unwritten (a refusal writes the file at most every few seconds, so
    the last ones of a burst would wait for the next refusal, maybe hours away)."""
    while True:
        await asyncio.sleep(counter.flush_seconds)
        counter.flush()


@contextmanager
def _reload_on_sighup(program_file: ProgramFile) -> Iterator[None]:
    """SIGHUP re-reads the program file while the app runs. Signals reach the main thread only: an
    app served from another thread (the test client) follows the file by its stat alone."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGHUP"):
        yield
        return
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, program_file.reload)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


def _factory_settings() -> Settings:
    """ATTRO_* settings for `uvicorn receiver.main:create_app --factory`: a bad value ends the process
    with one line and uvicorn's start-up failure code (its supervisor then gives up, not respawns)."""
    try:
        return Settings()
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The receiver for `settings`; ProgramError for a bad program file.

    With no settings it is uvicorn's factory: ATTRO_* settings, and a bad value or program file ends
    the process with one line on stderr instead of a traceback.
    """
    if settings is not None:
        return _build_app(settings)
    settings = _factory_settings()
    try:
        # a worker `attro serve --workers N` supervises, maybe started to replace one that died while
        # the program file is bad: `attro serve` checked the file before any worker started, so there
        # is a good copy of it. Any other start refuses a bad file.
        supervised = os.environ.get(SUPERVISED_WORKER_ENV) == "1"
        return _build_app(settings, start_from_last_good=supervised)
    except ProgramError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)


def _build_app(settings: Settings, start_from_last_good: bool = False) -> FastAPI:
    program_file = ProgramFile(  # a bad program file stops here (a worker may start from the last good)
        settings.program_path,
        last_good=settings.monitoring_dir / LAST_GOOD_PROGRAM,
        start_from_last_good=start_from_last_good,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.event_writer = StripeEventWriter(settings.landing_dir, EVENTS_STREAM)
        app.state.click_writer = LandingWriter(settings.landing_dir, CLICKS_STREAM)
        freeze_if_serving()  # start-up is over: what it made stays for the life of the process
        flusher = asyncio.create_task(_flush_refusals(app.state.refusal_counter))
        try:
            with _reload_on_sighup(program_file):
                yield
        finally:
            flusher.cancel()
            app.state.event_writer.close()
            app.state.click_writer.close()
            app.state.refusal_counter.flush()

    app = FastAPI(
        title="Attro receiver",
        summary="Stripe webhooks and affiliate clicks, landed as NDJSON",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.program_file = program_file
    app.state.ip_salt = settings.ip_salt  # read (or created) once, not on every click
    app.state.signing_secrets = SigningSecrets(settings)
    app.state.landed_click_ids = LandedClickIds()
    app.state.refusal_counter = RefusalCounter(settings)
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(StarletteHTTPException, unmatched_path)
    if settings.benchmark_noop_route:
        app.add_api_route("/_bench/noop", _noop, methods=["GET", "POST"], include_in_schema=False)
    app.add_middleware(RequestHeadLimit, max_bytes=settings.max_header_bytes)
    app.add_middleware(RequestLogMiddleware)  # added last, so outermost: refusals are logged too
    _ensure_log_output()
    _silence_access_log()
    return app
