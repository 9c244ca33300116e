"""POST /api/webhooks/stripe: signature verification, refusals, landing, durability."""

from __future__ import annotations

import json
import logging
import resource
import time

import pytest


def post_event(client, body: bytes, signature: str | None, **headers: str):
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post("/api/webhooks/stripe", content=body, headers=headers)


# -- the real Stripe-signed fixture -----------------------------------------------------------


@pytest.fixture
def real(kit):
    folder = kit.FIXTURES / "real_signed_basil"
    return {
        "body": (folder / "body.json").read_bytes(),
        "signature": (folder / "stripe-signature.txt").read_text().strip(),
        "secret": (folder / "signing_secret.txt").read_text().strip(),
    }


def test_real_stripe_signed_event_verifies_and_lands_byte_exact_with_age_check_off(
    make_settings, make_client, kit, real
):
    settings = make_settings(stripe_webhook_secret=real["secret"], webhook_tolerance_seconds=0)
    client = make_client(settings)

    response = post_event(client, real["body"], real["signature"])

    assert response.status_code == 200, response.text
    event = json.loads(real["body"])
    assert response.json() == {
        "received": True,
        "event_id": event["id"],
        "type": "invoice.payment_succeeded",
    }
    [record] = kit.landed(settings, "stripe_events")
    assert record["payload"] == real["body"].decode("utf-8")
    assert record["event_id"] == event["id"]
    assert record["event_type"] == "invoice.payment_succeeded"
    assert record["api_version"] == "2025-03-31.basil"
    assert record["livemode"] is False
    assert record["created"] == event["created"]
    assert record["received_at"].endswith("Z")
    # The non-ASCII description is landed as UTF-8 text, not as \\u escapes.
    non_ascii = {c for c in record["payload"] if ord(c) > 127}
    assert non_ascii
    assert non_ascii <= set(kit.landed_text(settings))


def test_real_stripe_event_refused_as_too_old_with_default_tolerance(make_settings, make_client, kit, real):
    settings = make_settings(stripe_webhook_secret=real["secret"])
    client = make_client(settings)

    response = post_event(client, real["body"], real["signature"])

    assert response.status_code == 400
    assert "too old" in response.json()["detail"]
    assert kit.landed(settings, "stripe_events") == []


def test_tampered_body_is_refused(make_settings, make_client, kit, real):
    settings = make_settings(stripe_webhook_secret=real["secret"], webhook_tolerance_seconds=0)
    client = make_client(settings)
    tampered = real["body"].replace(b'"amount_paid": 4999', b'"amount_paid": 1')
    assert tampered != real["body"]

    response = post_event(client, tampered, real["signature"])

    assert response.status_code == 400
    assert "no signature matches" in response.json()["detail"]
    assert kit.landed(settings, "stripe_events") == []


def test_wrong_secret_is_refused(make_settings, make_client, kit, real):
    settings = make_settings(stripe_webhook_secret="whsec_someone_else", webhook_tolerance_seconds=0)
    client = make_client(settings)

    response = post_event(client, real["body"], real["signature"])

    assert response.status_code == 400
    assert "no signature matches" in response.json()["detail"]
    assert kit.landed(settings, "stripe_events") == []


# -- our own signed events --------------------------------------------------------------------


@pytest.mark.parametrize("signing_secret", ["whsec_old_one", "whsec_new_one"])
def test_either_secret_of_a_rotation_is_accepted(make_settings, make_client, kit, signing_secret):
    settings = make_settings(stripe_webhook_secret="whsec_old_one, whsec_new_one")
    client = make_client(settings)
    body = kit.event_body(kit.stripe_event())

    response = post_event(client, body, kit.sign(body, signing_secret))

    assert response.status_code == 200, response.text
    assert [r["event_id"] for r in kit.landed(settings, "stripe_events")] == ["evt_1TestPaid"]


def test_accepted_event_is_landed_with_the_exact_body(client, settings, kit):
    body = kit.event_body(kit.stripe_event(livemode=True, type="charge.refunded"))

    response = post_event(client, body, kit.sign(body))

    assert response.status_code == 200
    assert response.json() == {"received": True, "event_id": "evt_1TestPaid", "type": "charge.refunded"}
    [record] = kit.landed(settings, "stripe_events")
    assert record["payload"] == body.decode()
    assert record["livemode"] is True
    assert record["created"] == 1_790_000_000
    [path] = (settings.landing_dir / "stripe_events").glob("date=*/*.ndjson")
    assert path.parent.name == f"date={time.strftime('%Y-%m-%d', time.gmtime())}"
    assert path.read_bytes().endswith(b"\n")


def test_duplicate_delivery_is_landed_again_and_answered_200(client, settings, kit):
    body = kit.event_body(kit.stripe_event())

    first = post_event(client, body, kit.sign(body))
    second = post_event(client, body, kit.sign(body))

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(kit.landed(settings, "stripe_events")) == 2


def test_missing_signature_header_is_refused(client, settings, kit):
    response = post_event(client, kit.event_body(kit.stripe_event()), None)

    assert response.status_code == 400
    assert response.json() == {"detail": "missing Stripe-Signature header"}


@pytest.mark.parametrize("header", ["garbage", "t=abc,v1=00", "v1=deadbeef", "t=1746757390"])
def test_malformed_signature_header_is_refused(client, settings, kit, header):
    response = post_event(client, kit.event_body(kit.stripe_event()), header)

    assert response.status_code == 400
    assert "malformed Stripe-Signature header" in response.json()["detail"]
    assert kit.landed(settings, "stripe_events") == []


def test_stale_signature_is_refused(client, settings, kit):
    body = kit.event_body(kit.stripe_event())

    response = post_event(client, body, kit.sign(body, timestamp=int(time.time()) - 301))

    assert response.status_code == 400
    assert "too old" in response.json()["detail"]


def test_future_timestamp_is_refused(client, settings, kit):
    body = kit.event_body(kit.stripe_event())

    response = post_event(client, body, kit.sign(body, timestamp=int(time.time()) + 3600))

    assert response.status_code == 400
    assert "future" in response.json()["detail"]
    assert kit.landed(settings, "stripe_events") == []


def test_oversized_body_is_refused_with_413(make_settings, make_client, kit):
    settings = make_settings(max_body_bytes=1024)
    client = make_client(settings)
    body = kit.event_body(kit.stripe_event(data={"object": {"note": "x" * 2000}}))

    response = post_event(client, body, kit.sign(body))

    assert response.status_code == 413
    assert kit.landed(settings, "stripe_events") == []


def test_oversized_streamed_body_without_length_is_refused_with_413(make_settings, make_client, kit):
    settings = make_settings(max_body_bytes=1024)
    client = make_client(settings)
    body = kit.event_body(kit.stripe_event(data={"object": {"note": "x" * 2000}}))

    def chunks():
        for i in range(0, len(body), 256):
            yield body[i : i + 256]

    response = client.post(
        "/api/webhooks/stripe", content=chunks(), headers={"Stripe-Signature": kit.sign(body)}
    )

    assert response.status_code == 413
    assert kit.landed(settings, "stripe_events") == []


def test_signed_body_that_is_not_json_is_refused(client, settings, kit):
    body = b"this is not json"

    response = post_event(client, body, kit.sign(body))

    assert response.status_code == 400
    assert response.json()["detail"].startswith("body is not JSON (")


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ([1, 2, 3], "not a JSON object"),
        ({"id": "ch_123", "object": "event", "type": "x", "data": {"object": {}}}, "'id'"),
        ({"id": "evt_1", "object": "charge", "type": "x", "data": {"object": {}}}, "'object'"),
        ({"id": "evt_1", "object": "event", "data": {"object": {}}}, "'type'"),
        ({"id": "evt_1", "object": "event", "type": "x", "data": {}}, "'data.object'"),
        ({"id": "evt_1", "object": "v2.core.event", "type": "x"}, "'object'"),
    ],
)
def test_signed_json_that_is_not_a_stripe_event_is_refused(client, settings, kit, event, reason):
    if isinstance(event, dict):
        event.setdefault("created", 1_790_000_000)
    body = json.dumps(event).encode()

    response = post_event(client, body, kit.sign(body))

    assert response.status_code == 400
    assert response.json()["detail"].startswith("not a Stripe event")
    assert reason in response.json()["detail"]
    assert kit.landed(settings, "stripe_events") == []


def test_no_configured_secret_answers_503(make_settings, make_client, kit):
    settings = make_settings(stripe_webhook_secret=None)
    client = make_client(settings)
    body = kit.event_body(kit.stripe_event())

    response = post_event(client, body, kit.sign(body))

    assert response.status_code == 503
    assert "no webhook secret" in response.json()["detail"]


def test_log_lines_name_the_event_and_outcome_but_no_secret_or_signature(client, settings, kit, caplog):
    body = kit.event_body(kit.stripe_event())
    header = kit.sign(body)
    caplog.set_level(logging.INFO, logger="receiver")

    post_event(client, body, header)
    post_event(client, body, header.replace("v1=", "v1=0"))

    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name.startswith("receiver")]
    assert {"event": "stripe_webhook", "outcome": "landed", "event_id": "evt_1TestPaid"}.items() <= (
        lines[0].items()
    )
    assert lines[1]["outcome"] == "rejected"
    assert {
        "event": "stripe_webhook",
        "reason": "no signature matches a configured webhook secret",
    }.items() <= (lines[1].items())
    assert kit.SECRET not in caplog.text
    assert header.split("v1=")[1] not in caplog.text
    assert kit.VISITOR_IP not in caplog.text


# -- landing failures -------------------------------------------------------------------------


def test_unwritable_landing_answers_503_and_recovers_without_restart(client, settings, kit):
    settings.landing_dir.mkdir(parents=True)
    blocker = settings.landing_dir / "stripe_events"
    blocker.write_text("a file where the stream folder belongs")
    body = kit.event_body(kit.stripe_event())

    refused = post_event(client, body, kit.sign(body))
    blocker.unlink()
    accepted = post_event(client, body, kit.sign(body))

    assert refused.status_code == 503
    detail = refused.json()["detail"]
    assert "retry" in detail
    # the cause, for Stripe's dashboard, with the server's paths named by their setting
    assert "File exists" in detail or "Not a directory" in detail, detail
    assert "$ATTRO_DATA_DIR/landing/stripe_events" in detail and str(settings.data_dir) not in detail
    assert accepted.status_code == 200
    assert len(kit.landed(settings, "stripe_events")) == 1


def test_disk_full_answers_503_and_later_events_land_cleanly(client, settings, kit):
    first = kit.event_body(kit.stripe_event("evt_first"))
    assert post_event(client, first, kit.sign(first)).status_code == 200
    # A full disk for the landing process: root ignores quotas but not the file-size limit (EFBIG).
    lander_pid = client.app.state.event_writer._process.pid
    soft, hard = resource.prlimit(lander_pid, resource.RLIMIT_FSIZE)
    resource.prlimit(lander_pid, resource.RLIMIT_FSIZE, (0, hard))
    lost = kit.event_body(kit.stripe_event("evt_lost"))
    refused = post_event(client, lost, kit.sign(lost))
    resource.prlimit(lander_pid, resource.RLIMIT_FSIZE, (soft, hard))
    later = kit.event_body(kit.stripe_event("evt_later"))
    accepted = post_event(client, later, kit.sign(later))

    assert refused.status_code == 503
    assert "File too large" in refused.json()["detail"]
    assert accepted.status_code == 200
    assert sorted(r["event_id"] for r in kit.landed(settings, "stripe_events")) == [
        "evt_first",
        "evt_later",
    ]
