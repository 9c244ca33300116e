"""What a signed event must hold to be landed: strict JSON, times and amounts the models can read."""

from __future__ import annotations

import json

import pytest

from core.stripe_fields import CONSUMED_EVENTS, INT, STRIPE_OBJECT_FIELDS, SUM, TIME
from receiver.event_values import AMOUNTS, TIMES, event_value_problem

ARRIVED = 1_790_000_000.0  # 2026-09-21


# an event type of each object the rules read
TYPE_OF = {kind: event for event, kind in reversed(list(CONSUMED_EVENTS.items()))}


def event(obj: dict, created: object = 1_789_999_000) -> dict:
    event_type = TYPE_OF.get(obj.get("object"), "customer.updated")
    return {"id": "evt_1", "object": "event", "type": event_type, "created": created, "data": {"object": obj}}


def post_event(client, kit, body: bytes):
    return client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": kit.sign(body)})


def test_every_integer_staging_decodes_is_checked_as_a_time_or_an_amount():
    integers = {
        path.replace("[*]", "[]") for path, kind in STRIPE_OBJECT_FIELDS.values() if kind in (INT, SUM, TIME)
    }
    assert set(TIMES) | set(AMOUNTS) == integers
    assert set(TIMES) == {"created", "status_transitions.paid_at"}


def test_events_the_rules_never_decode_are_not_looked_into():
    product = {"id": "evt_1", "object": "event", "type": "product.updated", "created": 1_789_999_000}
    assert "product.updated" not in CONSUMED_EVENTS
    assert event_value_problem({**product, "data": {"object": {"amount": "text"}}}, ARRIVED) is None


@pytest.mark.parametrize(
    "obj",
    [
        {
            "object": "invoice",
            "amount_paid": 4999,
            "tax": None,
            "status_transitions": {"paid_at": 1_789_999_000},
        },
        {"object": "invoice", "amount_paid": 0, "total_taxes": [{"amount": 120}, {"amount": None}]},
        {"object": "charge", "amount": 99_999_999, "amount_refunded": 0, "created": 1_789_999_000},
        {"object": "checkout.session", "amount_total": 999_999_999_999, "total_details": None},
        {"object": "refund", "amount": 500, "created": 1_790_086_000},  # within a day after arrival
        {"object": "customer", "email": "ana@example.com", "created": 1_789_999_000, "balance": -500},
        {"no": "object type"},
    ],
)
def test_stripe_shaped_values_pass(obj):
    assert event_value_problem(event(obj), ARRIVED) is None


@pytest.mark.parametrize(
    ("obj", "created", "problem"),
    [
        ({}, 1_230_767_999, "'created' is before 2009-01-01"),
        ({}, 1_790_086_401, "'created' is more than a day after the delivery arrived"),
        ({"object": "charge", "amount": 49.99}, 1_789_999_000, "'data.object.amount' must be an integer"),
        ({"object": "charge", "amount": True}, 1_789_999_000, "'data.object.amount' must be an integer"),
        ({"object": "charge", "amount": "4999"}, 1_789_999_000, "'data.object.amount' must be an integer"),
        ({"object": "payment_intent", "amount_received": 10**12}, 1_789_999_000, "out of range"),
        ({"object": "refund", "amount": -(10**12)}, 1_789_999_000, "'data.object.amount' is out of range"),
        ({"object": "charge", "created": 10**13}, 1_789_999_000, "'data.object.created' is more than a day"),
        (
            {"object": "invoice", "status_transitions": {"paid_at": 0}},
            1_789_999_000,
            "'data.object.status_transitions.paid_at' is before 2009",
        ),
        (
            {"object": "invoice", "total_tax_amounts": [{"amount": 1}, {"amount": 1e30}]},
            1_789_999_000,
            "'data.object.total_tax_amounts[1].amount' must be an integer",
        ),
        (
            {"object": "checkout.session", "total_details": {"amount_tax": 2**63}},
            1_789_999_000,
            "'data.object.total_details.amount_tax' is out of range",
        ),
    ],
)
def test_values_the_models_cannot_read_are_named(obj, created, problem):
    assert problem in event_value_problem(event(obj, created), ARRIVED)


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ({"object": "charge", "metadata": []}, "'data.object.metadata' must be an object"),
        ({"object": "invoice", "lines": []}, "'data.object.lines' must be an object"),
        ({"object": "invoice", "lines": {"data": {}}}, "'data.object.lines.data' must be a list"),
        (
            {"object": "invoice", "parent": {"subscription_details": "sub_1"}},
            "'data.object.parent.subscription_details' must be an object",
        ),
        ({"object": "checkout.session", "discounts": {}}, "'data.object.discounts' must be a list"),
    ],
)
def test_a_container_of_the_wrong_json_type_on_the_way_to_a_field_is_named(obj, problem):
    # staging would read it as absent: the sale would lose its click id without a word
    created = 1_789_999_000
    assert problem in event_value_problem(event(obj, created), ARRIVED)


# -- at the door: 400 with the reason, nothing landed --------------------------------------------


def test_a_lone_surrogate_escape_is_refused_as_not_json(client, settings, kit):
    # Python's json module reads it; DuckDB later fails the whole load ("no low surrogate in string").
    body = json.dumps(kit.stripe_event(data={"object": {"metadata": {"rd_click_id": "\ud800"}}})).encode()
    assert b"\\ud800" in body

    response = post_event(client, kit, body)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("body is not JSON (no low surrogate in string")
    assert kit.landed(settings, "stripe_events") == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "evt_1", "created": NaN}',
        b'{"id": "evt_1", "created": 1e400}',
        b"[" * 2000 + b"]" * 2000,
    ],
    ids=["nan", "infinity", "nested-2000-deep"],
)
def test_json_only_pythons_parser_reads_is_refused(client, settings, kit, body):
    response = post_event(client, kit, body)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("body is not JSON (")
    assert kit.landed(settings, "stripe_events") == []


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"created": 1_000_000_000}, "'created' is before 2009-01-01"),
        ({"created": 4_000_000_000}, "'created' is more than a day after the delivery arrived"),
        ({"data": {"object": {"object": "invoice", "amount_paid": 49.99}}}, "'data.object.amount_paid'"),
        ({"data": {"object": {"object": "charge", "amount": 10**15}}}, "out of range"),
    ],
)
def test_a_signed_event_the_models_cannot_read_is_refused_with_the_reason(
    client, settings, kit, overrides, reason
):
    body = kit.event_body(kit.stripe_event(**overrides))

    response = post_event(client, kit, body)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("not a Stripe event: ")
    assert reason in response.json()["detail"]
    assert kit.landed(settings, "stripe_events") == []


def test_a_nul_character_in_a_string_is_kept(client, settings, kit):
    # DuckDB and Polars read "\u0000" inside a string; the event is landed whole, as sent.
    body = kit.event_body(kit.stripe_event(data={"object": {"object": "charge", "description": "a\u0000b"}}))

    response = post_event(client, kit, body)

    assert response.status_code == 200, response.text
    assert kit.landed(settings, "stripe_events")[0]["payload"] == body.decode()
