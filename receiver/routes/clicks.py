"""POST /api/clicks: bulk click records (JSON array or NDJSON), validated as one batch, landed."""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from core.click_ids import is_click_id, new_click_id
from core.contracts import UTM_FIELDS
from core.program import Program
from receiver.body import read_limited_body
from receiver.click_record import click_record, hash_ip
from receiver.deps import ApiTokenDep, ClickWriterDep, IpSaltDep, ProgramDep, SettingsDep
from receiver.landing import LandingError
from receiver.logs import annotate_request

router = APIRouter(tags=["clicks"])

MAX_BATCH_RECORDS = 10_000
MAX_BATCH_BYTES = 32 * 1024 * 1024  # room for 10,000 records with long URLs and user agents
CLOCK_SKEW = timedelta(seconds=60)
# "Before the program existed", read as two bounds: nothing before 2000-01-01 is a real click for
# any program (a zeroed or epoch timestamp from a broken exporter), and nothing older than
# ATTRO_MAX_CLICK_AGE_DAYS (default 400: a year of backfill plus slack) can still be attributed by
# any offer's window, so it is far more likely a wrong clock than a click worth keeping.
EARLIEST_CLICK_AT = datetime(2000, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")

Text = Annotated[str, Field(max_length=8192)]


class ClickIn(BaseModel):
    """One click as sent to the bulk API. Validation context: `program`, `now`, `oldest`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    link_code: str
    clicked_at: datetime
    click_id: str | None = None
    ip: str | None = None
    user_agent: Text | None = None
    referer: Text | None = None
    landing_url: Text | None = None
    utm: dict[str, str | None] | None = None

    @field_validator("link_code")
    @classmethod
    def _known_link(cls, value: str, info: ValidationInfo) -> str:
        program: Program = info.context["program"]
        if program.link(value) is None:
            raise ValueError(f"unknown link code {value!r} (not in the program file)")
        return value

    @field_validator("clicked_at", mode="before")
    @classmethod
    def _rfc3339(cls, value: Any) -> Any:
        if not isinstance(value, str) or not _RFC3339.match(value.strip()):
            raise ValueError("must be an RFC 3339 timestamp with offset, e.g. 2026-11-27T05:46:07Z")
        return value.strip()

    @field_validator("clicked_at")
    @classmethod
    def _not_in_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        now: datetime = info.context["now"]
        if value > now + CLOCK_SKEW:
            raise ValueError("is in the future")
        if value < EARLIEST_CLICK_AT:
            raise ValueError("is before 2000-01-01, before any program existed")
        oldest: datetime = info.context["oldest"]
        if value < oldest:
            raise ValueError(
                f"is older than the backfill horizon ({oldest:%Y-%m-%d}, ATTRO_MAX_CLICK_AGE_DAYS)"
            )
        return value.astimezone(UTC)

    @field_validator("click_id")
    @classmethod
    def _ours(cls, value: str | None) -> str | None:
        if value is not None and not is_click_id(value):
            raise ValueError("not an Attro click id (30 Crockford base32 characters)")
        return value

    @field_validator("ip")
    @classmethod
    def _ip_address(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError("not an IPv4 or IPv6 address") from None

    @field_validator("utm")
    @classmethod
    def _utm_keys(cls, value: dict[str, str | None] | None) -> dict[str, str | None] | None:
        if value is None:
            return None
        utm: dict[str, str | None] = {}
        for key, text in value.items():
            name = key.removeprefix("utm_")
            if name not in UTM_FIELDS:
                raise ValueError(f"unknown utm key {key!r} (use {', '.join(UTM_FIELDS)})")
            if name in utm:
                raise ValueError(f"utm key {name!r} given twice")
            utm[name] = text
        return utm


def _parse_batch(body: bytes, content_type: str) -> list[Any | _Unparsable]:
    """Records from a JSON array or NDJSON (by Content-Type, else by the first character)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is not UTF-8 text") from None
    is_ndjson = "ndjson" in content_type or "jsonl" in content_type
    if not is_ndjson and text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except ValueError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"body is not JSON: {exc}") from None
        return records
    parsed: list[Any | _Unparsable] = []
    for line in text.split("\n"):  # not splitlines(): U+2028 may sit inside a JSON string
        if not line.strip():
            continue
        try:
            parsed.append(json.loads(line))
        except ValueError as exc:
            parsed.append(_Unparsable(str(exc)))
    return parsed


class _Unparsable:
    def __init__(self, message: str) -> None:
        self.message = f"line is not JSON: {message}"


def _errors(index: int, exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "index": index,
            "field": ".".join(str(p) for p in err["loc"]) or None,
            "message": err["msg"].removeprefix("Value error, "),
        }
        for err in exc.errors()
    ]


_OPENAPI = {
    "requestBody": {
        "required": True,
        "description": "a JSON array of clicks, or NDJSON (Content-Type: application/x-ndjson)",
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": ClickIn.model_json_schema(),
                    "maxItems": MAX_BATCH_RECORDS,
                }
            },
        },
    }
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "body is not UTF-8, not JSON, not an array or NDJSON"},
    401: {"description": "missing or wrong bearer token"},
    413: {"description": "more records or bytes than a batch may hold"},
    422: {"description": "one or more records invalid; nothing was accepted"},
    503: {"description": "no API token configured, or the clicks could not be landed durably"},
}


@router.post("/api/clicks", dependencies=[ApiTokenDep], openapi_extra=_OPENAPI, responses=_RESPONSES)
async def receive_clicks(
    request: Request,
    settings: SettingsDep,
    program: ProgramDep,
    ip_salt: IpSaltDep,
    writer: ClickWriterDep,
) -> Any:
    """Validate every record; land all in one append, or none (422 with per-record errors)."""
    body = await read_limited_body(request, MAX_BATCH_BYTES)
    items = _parse_batch(body, request.headers.get("content-type", "").lower())
    if not isinstance(items, list):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "expected a JSON array or NDJSON")
    if len(items) > MAX_BATCH_RECORDS:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{len(items)} records; a batch holds at most {MAX_BATCH_RECORDS}",
        )

    now = datetime.now(UTC)
    oldest = max(EARLIEST_CLICK_AT, now - timedelta(days=settings.max_click_age_days))
    context = {"program": program, "now": now, "oldest": oldest}
    clicks: list[ClickIn] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if isinstance(item, _Unparsable):
            errors.append({"index": index, "field": None, "message": item.message})
            continue
        try:
            clicks.append(ClickIn.model_validate(item, context=context))
        except ValidationError as exc:
            errors.extend(_errors(index, exc))
    if errors:
        invalid = len({e["index"] for e in errors})
        annotate_request(request, outcome="rejected", records=len(items), invalid=invalid)
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={
                "detail": f"{invalid} of {len(items)} records invalid; nothing was accepted",
                "errors": errors,
            },
        )

    records = []
    for click in clicks:
        link = program.link(click.link_code)
        assert link is not None  # checked by the validator
        records.append(
            click_record(
                click_id=click.click_id or new_click_id(click.clicked_at),
                clicked_at=click.clicked_at,
                source="api",
                link=link,
                ip_hash=hash_ip(ip_salt, click.ip),
                user_agent=click.user_agent,
                referer=click.referer,
                landing_url=click.landing_url,
                utm=click.utm or {},
                received_at=now,
            )
        )
    try:
        await writer.append(records)
    except LandingError:
        annotate_request(request, outcome="landing_failed", records=len(records))
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "clicks could not be stored durably; retry later"
        ) from None
    annotate_request(request, outcome="landed", records=len(records))
    return {"accepted": len(records), "click_ids": [r["click_id"] for r in records]}
