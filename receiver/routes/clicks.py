"""POST /api/clicks: bulk click records (JSON array or NDJSON), validated as one batch, landed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from receiver.body import read_limited_body
from receiver.click_batch import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, ClickBatch, ClickIn, prepare_batch
from receiver.deps import (
    ApiTokenDep,
    ClickWriterDep,
    IpSaltDep,
    LandedClickIdsDep,
    ProgramDep,
    SettingsDep,
)
from receiver.landed_click_ids import LandedClickIds
from receiver.landing import LandingError
from receiver.logs import annotate_request
from receiver.readiness import unplaced

router = APIRouter(tags=["clicks"])

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
    200: {
        "description": "landed; `duplicates` lists the records whose click id was already landed "
        "with the same link (a retry), which were not landed again",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["accepted", "click_ids", "duplicates"],
                    "properties": {
                        "accepted": {"type": "integer"},
                        "click_ids": {"type": "array", "items": {"type": "string"}},
                        "duplicates": {"type": "array", "items": {"type": "integer"}},
                    },
                }
            }
        },
    },
    400: {"description": "body is not UTF-8, not JSON, not an array or NDJSON"},
    401: {"description": "missing or wrong bearer token"},
    413: {"description": "more records or bytes than a batch may hold"},
    422: {"description": "one or more records invalid (or a click id repeated or taken); nothing accepted"},
    503: {"description": "no API token configured, or the clicks could not be landed durably"},
}


def _refused(request: Request, batch: ClickBatch, errors: list[dict[str, Any]]) -> JSONResponse:
    invalid = len({e["index"] for e in errors})
    annotate_request(request, outcome="rejected", records=batch.size, invalid=invalid)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={
            "detail": f"{invalid} of {batch.size} records invalid; nothing was accepted",
            "errors": errors,
        },
    )


def _sort_against_landed(batch: ClickBatch, landed: LandedClickIds) -> tuple[list[dict[str, Any]], list[int]]:
    """(errors for click ids landed before with another link, indexes of those landed with the same)."""
    errors: list[dict[str, Any]] = []
    duplicates: list[int] = []
    for index, (supplied, click_id, link_code) in enumerate(
        zip(batch.supplied, batch.click_ids, batch.link_codes, strict=True)
    ):
        earlier = landed.link_of(click_id) if supplied else None
        if earlier is None:
            continue
        if earlier == link_code:
            duplicates.append(index)
        else:
            message = f"click id already landed for link {earlier!r}; a click belongs to one link"
            errors.append({"index": index, "field": "click_id", "message": message})
    return errors, duplicates


@router.post("/api/clicks", dependencies=[ApiTokenDep], openapi_extra=_OPENAPI, responses=_RESPONSES)
async def receive_clicks(
    request: Request,
    settings: SettingsDep,
    program: ProgramDep,
    ip_salt: IpSaltDep,
    writer: ClickWriterDep,
    landed: LandedClickIdsDep,
) -> Any:
    """Validate every record; land all in one append, or none (422 with per-record errors).

    A record whose click id this process already landed with the same link is a retry: answered
    under `duplicates`, not landed again; with another link it is an error.
    """
    body = await read_limited_body(request, MAX_BATCH_BYTES)
    content_type = request.headers.get("content-type", "").lower()
    # CPU work of up to a second or so for 10,000 records: in a worker thread, so the event loop keeps
    # answering redirects, webhooks and /healthz meanwhile.
    batch = await run_in_threadpool(
        prepare_batch, body, content_type, program, ip_salt, settings.max_click_age_days, datetime.now(UTC)
    )
    if batch.errors:
        return _refused(request, batch, batch.errors)
    async with landed.lock:
        errors, duplicates = _sort_against_landed(batch, landed)
        if errors:
            return _refused(request, batch, errors)
        repeated = set(duplicates)
        fresh = [i for i in range(batch.size) if i not in repeated]
        try:
            await writer.append_lines(b"".join(batch.lines[i] for i in fresh))
        except LandingError as exc:
            annotate_request(request, outcome="landing_failed", records=len(fresh))
            cause = unplaced(str(exc), request.app.state.settings)
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"clicks could not be stored durably ({cause}); retry later",
            ) from None
        landed.remember((batch.click_ids[i], batch.link_codes[i]) for i in fresh)
    annotate_request(request, outcome="landed", records=len(fresh), duplicates=len(duplicates))
    answer = {"accepted": len(fresh), "click_ids": batch.click_ids, "duplicates": duplicates}
    return Response(orjson.dumps(answer), media_type="application/json")  # 10,000 ids: skip the encoder
