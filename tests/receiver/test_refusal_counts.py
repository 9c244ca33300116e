"""Refused webhooks are counted per hour and reason for the admin's health page (core/refusals.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from core.refusals import RefusalCounter, reason_key, recent_refusals
from core.settings import Settings
from receiver.main import create_app


def test_a_reason_loses_its_particulars() -> None:
    assert reason_key("body is not JSON (no low surrogate in string: line 1 column 85)") == "body is not JSON"
    assert reason_key("not a Stripe event: 'id' must be a string") == "not a Stripe event"
    assert reason_key("timestamp too old (more than 300 s; replayed)") == "timestamp too old"


def test_counts_of_every_process_in_the_last_day_are_summed(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    now = datetime(2026, 3, 20, 12, 30, tzinfo=UTC)
    first, second = RefusalCounter(settings), RefusalCounter(settings)
    first.add("missing Stripe-Signature header", 400, now=now.timestamp())
    first.add("missing Stripe-Signature header", 400, now=(now - timedelta(hours=30)).timestamp())  # too old
    second.add("missing Stripe-Signature header", 400, now=now.timestamp())
    second.add("request body larger than 1048576 bytes", 413, now=now.timestamp())
    first.flush(now.timestamp())
    second.flush(now.timestamp())
    assert recent_refusals(settings, now) == {
        "400 missing Stripe-Signature header": 2,
        "413 request body larger than 1048576 bytes": 1,
    }


def test_the_receiver_counts_its_refusals(client, settings) -> None:
    for _ in range(2):
        assert client.post("/api/webhooks/stripe", content=b"{}").status_code == 400  # no signature
    client.app.state.refusal_counter.flush()
    counts = recent_refusals(settings, datetime.now(UTC))
    assert counts == {"400 missing Stripe-Signature header": 2}


def test_the_last_refusals_of_a_burst_are_written_without_waiting_for_another(settings) -> None:
    # Audit: only a later refusal wrote the file, so a burst's last counts could wait for hours.
    app = create_app(settings)
    app.state.refusal_counter.flush_seconds = 0.2
    with TestClient(app) as client:
        for _ in range(3):
            assert client.post("/api/webhooks/stripe", content=b"{}").status_code == 400
        deadline = time.monotonic() + 5
        counts: dict[str, int] = {}
        while time.monotonic() < deadline and counts.get("400 missing Stripe-Signature header") != 3:
            time.sleep(0.1)
            counts = recent_refusals(settings, datetime.now(UTC))

    assert counts == {"400 missing Stripe-Signature header": 3}
