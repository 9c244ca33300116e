"""FastAPI dependencies: the app's settings, program, landing writers, landed click ids, API token check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from core.program import Program
from core.settings import Settings
from receiver.landed_click_ids import LandedClickIds
from receiver.landing import LandingWriter


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_program(request: Request) -> Program:
    """The program file's current version (re-read when it changes; receiver/program_file.py)."""
    return request.app.state.program_file.current()


def get_ip_salt(request: Request) -> bytes:
    return request.app.state.ip_salt


def get_click_writer(request: Request) -> LandingWriter:
    return request.app.state.click_writer


def get_landed_click_ids(request: Request) -> LandedClickIds:
    return request.app.state.landed_click_ids


SettingsDep = Annotated[Settings, Depends(get_settings)]
ProgramDep = Annotated[Program, Depends(get_program)]
IpSaltDep = Annotated[bytes, Depends(get_ip_salt)]
ClickWriterDep = Annotated[LandingWriter, Depends(get_click_writer)]
LandedClickIdsDep = Annotated[LandedClickIds, Depends(get_landed_click_ids)]


def require_api_token(request: Request, settings: SettingsDep) -> None:
    """Bearer token check for the bulk API: 503 when no token is configured, 401 when wrong."""
    if not settings.api_token:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no API token configured")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = settings.api_token.encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


ApiTokenDep = Depends(require_api_token)
