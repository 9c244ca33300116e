"""Abuse and bad input: forged and replayed signatures, oversized bodies, click API bounds, redirects."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from receiver import click_batch, deps
from receiver.body import read_limited_body


def post_event(client, body: bytes, signature: str | bytes):
    return client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": signature})


# -- webhooks ---------------------------------------------------------------------------------


def test_non_ascii_signature_is_refused_not_taken_for_verified(client, settings, kit):
    # Regression: Stripe's library raises TypeError comparing a non-ASCII signature, and the first
    # receiver read any TypeError as "signature fine, body odd" and landed the forgery.
    body = kit.event_body(kit.stripe_event("evt_forged"))

    response = post_event(client, body, f"t={int(time.time())},v1=é".encode())

    assert response.status_code == 400
    assert kit.landed(settings, "stripe_events") == []


@pytest.mark.parametrize(("offset", "status"), [(-290, 200), (-310, 400), (60, 200), (290, 200), (310, 400)])
def test_timestamps_beyond_the_tolerance_either_way_are_refused(client, settings, kit, offset, status):
    body = kit.event_body(kit.stripe_event())

    response = post_event(client, body, kit.sign(body, timestamp=int(time.time()) + offset))

    assert response.status_code == status
    assert len(kit.landed(settings, "stripe_events")) == (1 if status == 200 else 0)


def test_a_header_with_too_many_signatures_is_refused(client, kit):
    body = kit.event_body(kit.stripe_event())
    header = kit.sign(body) + "".join(f",v1={n:064x}" for n in range(20))

    response = post_event(client, body, header)

    assert response.status_code == 400
    assert "more than 8 signatures" in response.json()["detail"]


def _request(chunks: list[bytes], content_length: int | None) -> tuple[Request, list[int]]:
    consumed: list[int] = []
    pending = list(chunks)

    async def receive() -> dict:
        chunk = pending.pop(0) if pending else b""
        consumed.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    return Request(scope, receive), consumed


def test_declared_oversized_body_is_refused_before_a_byte_is_read():
    request, consumed = _request([b"x" * 1024] * 100, content_length=100 * 1024)

    with pytest.raises(HTTPException) as refused:
        asyncio.run(read_limited_body(request, 4096))

    assert refused.value.status_code == 413
    assert consumed == []


def test_undeclared_oversized_body_is_refused_as_soon_as_it_goes_over():
    request, consumed = _request([b"x" * 1024] * 100, content_length=None)

    with pytest.raises(HTTPException) as refused:
        asyncio.run(read_limited_body(request, 4096))

    assert refused.value.status_code == 413
    assert sum(consumed) <= 4096 + 1024  # stopped at the first chunk over the limit, not at 100 KiB


# -- POST /api/clicks -------------------------------------------------------------------------


def auth(kit) -> dict[str, str]:
    return {"Authorization": f"Bearer {kit.API_TOKEN}"}


def at(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_bearer_token_is_compared_in_constant_time(client, kit, monkeypatch):
    calls = []

    def spy(a, b):
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(deps.hmac, "compare_digest", spy)
    client.post("/api/clicks", json=[], headers={"Authorization": "Bearer nope"})

    assert calls == [(b"nope", kit.API_TOKEN.encode())]


@pytest.mark.parametrize(
    ("clicked_at", "message"),
    [
        ("1999-12-31T23:59:59Z", "before 2000-01-01"),
        ("1970-01-01T00:00:00Z", "before 2000-01-01"),
        (at(datetime.now(UTC) - timedelta(days=31)), "older than the backfill horizon"),
        (at(datetime.now(UTC) + timedelta(hours=1)), "in the future"),
    ],
)
def test_clicks_from_before_the_program_or_the_future_are_refused(
    make_settings, make_client, kit, clicked_at, message
):
    settings = make_settings(max_click_age_days=30)
    client = make_client(settings)

    response = client.post(
        "/api/clicks", json=[{"link_code": "jane-pro", "clicked_at": clicked_at}], headers=auth(kit)
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "clicked_at"
    assert message in error["message"]
    assert kit.landed(settings, "clicks") == []


def test_clicks_inside_the_backfill_horizon_are_accepted(make_settings, make_client, kit):
    settings = make_settings(max_click_age_days=30)
    client = make_client(settings)
    clicked_at = at(datetime.now(UTC) - timedelta(days=29))

    response = client.post(
        "/api/clicks", json=[{"link_code": "jane-pro", "clicked_at": clicked_at}], headers=auth(kit)
    )

    assert response.status_code == 200, response.text


def test_a_batch_over_the_record_limit_is_refused_whole(client, settings, kit, monkeypatch):
    monkeypatch.setattr(click_batch, "MAX_BATCH_RECORDS", 3)
    record = {"link_code": "jane-pro", "clicked_at": at(datetime.now(UTC))}

    response = client.post("/api/clicks", json=[record] * 4, headers=auth(kit))

    assert response.status_code == 413
    assert kit.landed(settings, "clicks") == []


# -- tracking links ---------------------------------------------------------------------------


def test_visitor_query_string_passes_through_byte_for_byte(client):
    query = "b=2&a=1&a=3&flag&q=hello+world&e=%C3%A9&slash=%2F&empty="

    response = client.get(f"/r/jane-pro?{query}")

    location = response.headers["location"]
    assert location.startswith(f"https://shop.example/pricing?plan=pro&{query}&rd_click_id=")


@pytest.mark.parametrize(
    "path",
    [
        "/r/jane-pro?rd_click_id=forged",
        "/r/jane-pro?rd%5Fclick%5Fid=forged",
        "/r/jane-pro?rd_click_id",
        "/r/jane-pro?x=1&rd_click_id=a&rd_click_id=b",
    ],
)
def test_no_spelling_of_a_visitor_click_id_survives(client, settings, kit, path):
    response = client.get(path)

    [click] = kit.landed(settings, "clicks")
    location = response.headers["location"]
    assert location.endswith(f"rd_click_id={click['click_id']}")
    assert "forged" not in location
    assert location.count("rd_click_id") == 1
    assert "rd%5Fclick%5Fid" not in location


@pytest.mark.parametrize(
    ("path", "destination_path"),
    [
        ("/r/jane-pro?url=//evil.example", "/pricing"),
        ("/r/jane-pro?%2F%2Fevil.example", "/pricing"),
        ("/r/jane-pro?x=%23@evil.example", "/pricing"),
        ("/r/jane-pro?x=1\\@evil.example", "/pricing"),
        ("/r/jane-pro?redirect=https%3A%2F%2Fevil.example", "/pricing"),
        ("/r/jane-pro?next=https://evil.example/", "/pricing"),
        ("/r/jane-pro?@evil.example", "/pricing"),
        ("/r/jane-pro?x=%0d%0aLocation:%20https://evil.example", "/pricing"),
        ("/r/omar-all?next=javascript:alert(1)", "/"),
    ],
)
def test_no_parameter_can_redirect_anywhere_else(client, path, destination_path):
    """The redirect goes to the destination named in the program, whatever the visitor's query."""
    response = client.get(path)

    assert response.status_code == 302
    assert "\n" not in response.headers["location"]
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "shop.example", destination_path)
    assert location.fragment == ""
