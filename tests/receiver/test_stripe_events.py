"""A webhook delivery as the receiver hands it to the landing process, and its landing line."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.landing_records import encode_record
from receiver.signature import WebhookRejected
from receiver.stripe_events import Delivery, landing_line, pack_delivery, stripe_event_record, unpack_delivery
from simulator.stripe import encode, sign_header
from tests.support.paths import STRIPE_FIXTURES

SECRET = "whsec_stripe_events_test"
REAL = STRIPE_FIXTURES / "real_signed_basil"


def _event(event_id: str = "evt_1") -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": "charge.succeeded",
        "api_version": "2025-03-31.basil",
        "created": 1_760_000_000,
        "livemode": False,
        "data": {"object": {"object": "charge", "id": "ch_1", "description": "Zoë's plan"}},
    }


@pytest.mark.parametrize(
    "delivery",
    [
        Delivery(b'{"id":"evt_1"}', "t=1,v1=ab", ["whsec_a", "whsec_b"], 300, 1_760_000_000.123456),
        Delivery(b"", None, [], 0, 0.0),
        Delivery(b"{}\n" + bytes(range(256)), "t=1,v1=\xe9\xff", ["whsec_only"], -5, 1.5),
    ],
    ids=["rotation", "empty", "binary-body-latin1-header"],
)
def test_a_delivery_packs_and_unpacks_unchanged(delivery):
    assert unpack_delivery(pack_delivery(delivery)) == delivery


@pytest.mark.parametrize("cut", [3, 30])
def test_a_cut_off_delivery_frame_is_an_error_not_a_delivery(cut):
    packed = pack_delivery(Delivery(b"{}", "t=1,v1=ab", [SECRET], 300, 1.0))

    with pytest.raises(ValueError, match="delivery frame"):
        unpack_delivery(packed[:cut])


def test_the_landing_line_is_the_record_of_the_body_exactly_as_sent():
    body = (REAL / "body.json").read_bytes()
    header = (REAL / "stripe-signature.txt").read_text().strip()
    secret = (REAL / "signing_secret.txt").read_text().strip()
    received_at = datetime(2026, 11, 27, 8, 0, 0, 123456, tzinfo=UTC)

    landed = landing_line(Delivery(body, header, [secret], 0, received_at.timestamp()))

    event = json.loads(body)
    assert (landed.event_id, landed.event_type) == (event["id"], event["type"])
    assert landed.line == encode_record(stripe_event_record(event, body.decode(), received_at))
    assert json.loads(landed.line)["received_at"] == "2026-11-27T08:00:00.123456Z"


def test_the_tolerance_counts_from_arrival_not_from_when_the_lander_gets_to_it():
    body = encode(_event())
    signed_at = 1_760_000_000
    header = sign_header(body, SECRET, signed_at)

    assert landing_line(Delivery(body, header, [SECRET], 300, signed_at + 299)).event_id == "evt_1"
    with pytest.raises(WebhookRejected, match="too old"):
        landing_line(Delivery(body, header, [SECRET], 300, signed_at + 301))


@pytest.mark.parametrize(
    ("header", "secrets", "reason"),
    [
        (None, [SECRET], "missing Stripe-Signature header"),
        ("t=1760000000,v1=00", [SECRET], "no signature matches"),
        ("sign", [SECRET], "malformed Stripe-Signature header"),
    ],
)
def test_an_unverified_delivery_is_refused_with_its_reason(header, secrets, reason):
    with pytest.raises(WebhookRejected, match=reason):
        landing_line(Delivery(encode(_event()), header, secrets, 0, 1_760_000_000.0))


def test_a_verified_body_that_is_not_an_event_is_refused():
    body = b'{"id": "evt_1", "object": "charge"}'

    with pytest.raises(WebhookRejected, match="not a Stripe event"):
        landing_line(Delivery(body, sign_header(body, SECRET, 1), [SECRET], 0, 1.0))


@pytest.mark.parametrize("livemode", ["false", 0, 1, None, ""])
def test_an_event_whose_livemode_is_not_a_boolean_is_refused_never_landed_as_live(livemode):
    body = encode(_event() | {"livemode": livemode})

    with pytest.raises(WebhookRejected, match="not a Stripe event: 'livemode' must be true or false"):
        landing_line(Delivery(body, sign_header(body, SECRET, 1_760_000_000), [SECRET], 300, 1_760_000_000.0))
