"""Structured request logs: one JSON line per request; never a secret, a signature or a raw IP."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

RECORD_IP = "198.51.100.77"


def test_a_busy_run_logs_one_json_line_per_request_and_leaks_nothing(client, settings, kit, caplog):
    caplog.set_level(logging.DEBUG)
    body = kit.event_body(kit.stripe_event("evt_1Logged"))
    good = kit.sign(body)
    signature_hex = good.split("v1=")[1]
    auth = {"Authorization": f"Bearer {kit.API_TOKEN}"}
    clicked_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    hook = "/api/webhooks/stripe"
    requests = [
        ("POST", hook, {"content": body, "headers": {"Stripe-Signature": good}}),
        ("POST", hook, {"content": body, "headers": {"Stripe-Signature": good.replace("v1=", "v1=0")}}),
        ("POST", hook, {"content": body, "headers": {"Stripe-Signature": kit.sign(body, timestamp=1)}}),
        ("POST", hook, {"content": body, "headers": {"Stripe-Signature": kit.sign(body, "whsec_other")}}),
        ("POST", hook, {"content": body, "headers": {}}),
        ("POST", hook, {"content": b"x" * (2 * 1024 * 1024), "headers": {"Stripe-Signature": good}}),
        (
            "POST",
            hook,
            {"content": body, "headers": {"Stripe-Signature": f"t={int(time.time())},v1=é".encode()}},
        ),
        (
            "POST",
            "/api/clicks",
            {"json": [{"link_code": "jane-pro", "clicked_at": clicked_at, "ip": RECORD_IP}], "headers": auth},
        ),
        (
            "POST",
            "/api/clicks",
            {"json": [{"link_code": "nope", "clicked_at": clicked_at, "ip": RECORD_IP}], "headers": auth},
        ),
        ("POST", "/api/clicks", {"json": [], "headers": {"Authorization": "Bearer wrong-token-guess"}}),
        ("GET", f"/r/jane-pro?utm_source=mail&email=visitor@example.com&ip={kit.VISITOR_IP}", {}),
        ("GET", "/r/unknown-code?x=1", {}),
        ("GET", "/healthz", {"headers": {"X-Forwarded-For": kit.VISITOR_IP}}),
        ("GET", "/nowhere", {}),
    ] * 5
    caplog.clear()

    responses = [client.request(method, url, **kwargs) for method, url, kwargs in requests]

    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "receiver.requests"]
    assert len(lines) == len(requests)
    for (method, url, _), response, line in zip(requests, responses, lines, strict=True):
        assert line["method"] == method
        assert line["path"] == url.split("?")[0]
        assert line["status"] == response.status_code
        assert isinstance(line["duration_ms"], float)
    webhook_lines = [line for line in lines if line["path"] == hook]
    assert {line.get("outcome") for line in webhook_lines} >= {"landed", "rejected"}
    assert all(line["event_id"] == "evt_1Logged" for line in webhook_lines if line.get("outcome") == "landed")
    assert {r.status_code for r in responses} >= {200, 302, 400, 401, 404, 413, 422}

    # The server side: the receiver's loggers and uvicorn's (the test's own httpx client logs URLs).
    server_log = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("receiver", "uvicorn", "fastapi"))
    )
    everything = (
        server_log
        + "".join(r.text for r in responses)
        + "".join(
            " ".join(f"{k}: {v}" for k, v in r.headers.items()) for r in responses if r.status_code != 302
        )
    )
    for needle in (
        kit.SECRET,
        signature_hex,
        kit.VISITOR_IP,
        RECORD_IP,
        kit.API_TOKEN,
        "visitor@example.com",
    ):
        assert needle not in everything, needle
    assert "utm_source" not in server_log  # no query strings at all


def test_uvicorn_access_log_is_off_because_it_prints_client_addresses(client):
    assert logging.getLogger("uvicorn.access").disabled
