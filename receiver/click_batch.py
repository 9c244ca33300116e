"""A POST /api/clicks batch: parsed, validated and turned into landing lines, all or nothing.

`prepare_batch` is plain CPU work (a 10,000-record batch takes one to three seconds): the route runs
it in a worker thread so the event loop keeps serving redirects, webhooks and /healthz meanwhile.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import HTTPException, status
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
from core.landing_records import encode_record
from core.program import Link, Program
from receiver.click_record import MAX_TEXT_CHARS, click_record, hash_ip

MAX_BATCH_RECORDS = 10_000
MAX_BATCH_BYTES = 32 * 1024 * 1024  # room for 10,000 records with long URLs and user agents
CLOCK_SKEW = timedelta(seconds=60)
# "Before the program existed", read as two bounds: nothing before 2000-01-01 is a real click for
# any program (a zeroed or epoch timestamp from a broken exporter), and nothing older than
# ATTRO_MAX_CLICK_AGE_DAYS (default 400: a year of backfill plus slack) can still be attributed by
# any offer's window, so it is far more likely a wrong clock than a click worth keeping.
EARLIEST_CLICK_AT = datetime(2000, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)

Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


class ClickIn(BaseModel):
    """One click as sent to the bulk API. Validation context: `links` (code → Link), `now`, `oldest`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    link_code: str
    clicked_at: datetime
    click_id: str | None = None
    ip: str | None = None
    user_agent: Text | None = None
    referer: Text | None = None
    landing_url: Text | None = None
    utm: dict[str, Text | None] | None = None

    @field_validator("link_code")
    @classmethod
    def _known_link(cls, value: str, info: ValidationInfo) -> str:
        links: dict[str, Link] = info.context["links"]
        if value not in links:
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
            return _array_items(text)
        except (ValueError, RecursionError) as exc:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, f"body is not JSON: {_json_error(exc)}"
            ) from None
    parsed: list[Any | _Unparsable] = []
    for line in text.split("\n"):  # not splitlines(): U+2028 may sit inside a JSON string
        if not line.strip():
            continue
        try:
            parsed.append(json.loads(line))
        except (ValueError, RecursionError) as exc:
            parsed.append(_Unparsable(_json_error(exc)))
    return parsed


def _json_error(exc: ValueError | RecursionError) -> str:
    if isinstance(exc, RecursionError):  # json's decoder recurses once per level of nesting
        return "nested too deeply"
    return str(exc)


_YIELD_EVERY = 32
_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")  # JSON's own


def _array_items(text: str) -> list[Any]:
    """The items of a JSON array (ValueError when `text` is not one), as `json.loads` reads them.

    Decoded item by item: one `json.loads` of a 32 MB batch holds the interpreter for a second, and
    the event loop, whose thread needs it too, would wait that long; a record takes microseconds.
    """
    pos = _skip_whitespace(text, 0)
    if not text.startswith("[", pos):
        raise ValueError(f"expected '[' at char {pos}")
    pos = _skip_whitespace(text, pos + 1)
    items: list[Any] = []
    while not text.startswith("]", pos):
        if items:
            if not text.startswith(",", pos):
                raise ValueError(f"expected ',' or ']' at char {pos}")
            pos = _skip_whitespace(text, pos + 1)
        _let_others_run(len(items))
        item, pos = _DECODER.raw_decode(text, pos)
        items.append(item)
        pos = _skip_whitespace(text, pos)
    if _skip_whitespace(text, pos + 1) != len(text):
        raise ValueError(f"extra data after the array at char {pos + 1}")
    return items


def _skip_whitespace(text: str, pos: int) -> int:
    found = _WHITESPACE.match(text, pos)
    return found.end() if found else pos


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


@dataclass
class ClickBatch:
    """A batch as prepared: per-record errors, or one landing line per record, in record order."""

    size: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    click_ids: list[str] = field(default_factory=list)
    link_codes: list[str] = field(default_factory=list)
    supplied: list[bool] = field(default_factory=list)  # the client sent this click id
    lines: list[bytes] = field(default_factory=list)

    @property
    def invalid(self) -> int:
        return len({e["index"] for e in self.errors})


def prepare_batch(
    body: bytes,
    content_type: str,
    program: Program,
    ip_salt: bytes,
    max_click_age_days: int,
    now: datetime,
) -> ClickBatch:
    """Parse and validate the whole batch; its landing lines when every record is valid.

    HTTPException for a body that is no batch at all (400) or too many records (413).
    """
    items = _parse_batch(body, content_type)
    if not isinstance(items, list):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "expected a JSON array or NDJSON")
    if len(items) > MAX_BATCH_RECORDS:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{len(items)} records; a batch holds at most {MAX_BATCH_RECORDS}",
        )
    links = {link.code: link for link in program.links}  # Program.link() is a scan per call
    oldest = max(EARLIEST_CLICK_AT, now - timedelta(days=max_click_age_days))
    context = {"links": links, "now": now, "oldest": oldest}
    batch = ClickBatch(size=len(items))
    valid: list[tuple[int, ClickIn]] = []
    for index, item in enumerate(items):
        _let_others_run(index)
        if isinstance(item, _Unparsable):
            batch.errors.append({"index": index, "field": None, "message": item.message})
            continue
        try:
            valid.append((index, ClickIn.model_validate(item, context=context)))
        except ValidationError as exc:
            batch.errors.extend(_errors(index, exc))
    batch.errors += repeated_click_ids([(index, click.click_id) for index, click in valid])
    if batch.errors:
        batch.errors.sort(key=lambda e: e["index"])
        return batch
    for index, click in valid:
        _let_others_run(index)
        record = click_record(
            click_id=click.click_id or new_click_id(click.clicked_at),
            clicked_at=click.clicked_at,
            source="api",
            link=links[click.link_code],
            ip_hash=hash_ip(ip_salt, click.ip),
            user_agent=click.user_agent,
            referer=click.referer,
            landing_url=click.landing_url,
            utm=click.utm or {},
            received_at=now,
        )
        batch.click_ids.append(record["click_id"])
        batch.link_codes.append(click.link_code)
        batch.supplied.append(click.click_id is not None)
        batch.lines.append(encode_record(record))
    return batch


def _let_others_run(index: int) -> None:
    """Every few records, hand the interpreter to whichever thread waits for it (the event loop's).

    Left to itself, a busy thread gives up the GIL only when another has waited 5 ms for it, and
    the event loop waits that long again after every socket call: a /healthz during a batch took
    up to 0.3-0.7 s. Releasing it every 32 records (~5 us each time) halved that (p99 ~0.1 s).
    """
    if index % _YIELD_EVERY == 0:
        time.sleep(0)


def repeated_click_ids(click_ids: list[tuple[int, str | None]]) -> list[dict[str, Any]]:
    """An error for each (index, supplied click id) whose id an earlier record of the batch has too."""
    first_at: dict[str, int] = {}
    errors = []
    for index, click_id in click_ids:
        if click_id is None:
            continue
        if click_id in first_at:
            message = f"the same click id as record {first_at[click_id]}: a batch holds each click once"
            errors.append({"index": index, "field": "click_id", "message": message})
        else:
            first_at[click_id] = index
    return errors
