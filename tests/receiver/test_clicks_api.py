"""POST /api/clicks: token, whole-batch validation, JSON array and NDJSON, ids in order, ids sent again."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.click_ids import click_id_time, is_click_id, new_click_id
from receiver.landing import LandingError, LandingWriter
from simulator.launcher import ReceiverProcess


def auth(kit) -> dict[str, str]:
    return {"Authorization": f"Bearer {kit.API_TOKEN}"}


def click(**fields) -> dict:
    return {"link_code": "jane-pro", "clicked_at": "2026-11-20T10:00:00Z", **fields}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdA=="}],
)
def test_missing_or_wrong_token_is_401_and_lands_nothing(client, settings, kit, headers):
    response = client.post("/api/clicks", json=[click()], headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert kit.landed(settings, "clicks") == []


def test_no_configured_token_is_503(make_settings, make_client, kit):
    client = make_client(make_settings(api_token=None))

    response = client.post("/api/clicks", json=[click()], headers=auth(kit))

    assert response.status_code == 503


def test_json_array_is_landed_in_order_with_ids_in_record_order(client, settings, kit):
    records = [
        click(
            ip="198.51.100.23",
            user_agent=kit.BROWSER_UA,
            referer="https://blog.example/",
            landing_url="https://shop.example/pricing?utm_source=blog",
            utm={"utm_source": "blog", "medium": "cpc"},
        ),
        click(link_code="omar-all", clicked_at="2026-11-20T12:30:00.250+02:00"),
    ]

    response = client.post("/api/clicks", json=records, headers=auth(kit))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 2
    landed = kit.landed(settings, "clicks")
    assert [c["click_id"] for c in landed] == body["click_ids"]
    assert all(is_click_id(i) for i in body["click_ids"])
    first, second = landed
    assert first["source"] == "api"
    assert (first["link_code"], first["affiliate_id"], first["offer_id"]) == (
        "jane-pro",
        "jane",
        "pro-20",
    )
    assert first["clicked_at"] == "2026-11-20T10:00:00.000000Z"
    assert first["ip_hash"] == hmac.new(b"test-salt", b"198.51.100.23", hashlib.sha256).hexdigest()
    assert (first["utm_source"], first["utm_medium"], first["utm_campaign"]) == (
        "blog",
        "cpc",
        None,
    )
    assert first["is_bot"] is False
    assert (second["affiliate_id"], second["clicked_at"]) == ("omar", "2026-11-20T10:30:00.250000Z")
    assert second["ip_hash"] is None
    assert second["is_bot"] is False  # an imported record without a user agent is not judged a bot
    # A generated id carries the click's own time.
    assert click_id_time(second["click_id"]) == datetime(2026, 11, 20, 10, 30, 0, 250000, UTC)
    assert "198.51.100.23" not in kit.landed_text(settings)


@pytest.mark.parametrize("content_type", ["application/x-ndjson", None])
def test_ndjson_is_accepted_by_content_type_or_detected(client, settings, kit, content_type):
    body = "\n".join(json.dumps(click(referer=f"r{n}")) for n in range(3)) + "\n\n"
    headers = auth(kit) | ({"Content-Type": content_type} if content_type else {})

    response = client.post("/api/clicks", content=body.encode(), headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    assert [c["referer"] for c in kit.landed(settings, "clicks")] == ["r0", "r1", "r2"]


def test_supplied_click_id_of_ours_is_kept(client, settings, kit):
    carried = new_click_id(datetime(2026, 11, 20, 9, 59, tzinfo=UTC))

    response = client.post("/api/clicks", json=[click(click_id=carried), click()], headers=auth(kit))

    ids = response.json()["click_ids"]
    assert ids[0] == carried
    assert ids[1] != carried
    assert kit.landed(settings, "clicks")[0]["click_id"] == carried


def test_any_invalid_record_rejects_the_whole_batch_with_per_record_errors(client, settings, kit):
    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    records = [
        click(),  # valid, but not landed because others are not
        click(link_code="nobody"),
        click(clicked_at="2026-11-20 10:00:00"),  # no offset
        click(clicked_at=future),
        click(click_id="not-one-of-ours"),
        click(utm={"utm_source": "a", "gclid": "b"}),
        click(ip="999.1.1.1"),
        click(utm={"source": 7}),
        {"clicked_at": "2026-11-20T10:00:00Z"},
        click(colour="red"),
        "not an object",
        click(utm={"campaign": "x" * 8193}),  # longer than any landed text may be
    ]

    response = client.post("/api/clicks", json=records, headers=auth(kit))

    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "11 of 12 records invalid; nothing was accepted"
    by_index = {(e["index"], e["field"]) for e in body["errors"]}
    assert by_index == {
        (1, "link_code"),
        (2, "clicked_at"),
        (3, "clicked_at"),
        (4, "click_id"),
        (5, "utm"),
        (6, "ip"),
        (7, "utm.source"),
        (8, "link_code"),
        (9, "colour"),
        (10, None),
        (11, "utm.campaign"),
    }
    messages = {e["index"]: e["message"] for e in body["errors"]}
    assert "unknown link code 'nobody'" in messages[1]
    assert "RFC 3339" in messages[2]
    assert "future" in messages[3]
    assert "gclid" in messages[5]
    assert kit.landed(settings, "clicks") == []


def test_clicked_at_within_the_clock_skew_allowance_is_accepted(client, kit):
    soon = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()

    response = client.post("/api/clicks", json=[click(clicked_at=soon)], headers=auth(kit))

    assert response.status_code == 200


def test_unparsable_ndjson_line_is_reported_by_index(client, settings, kit):
    body = json.dumps(click()) + "\n{not json\n"

    response = client.post(
        "/api/clicks",
        content=body.encode(),
        headers=auth(kit) | {"Content-Type": "application/x-ndjson"},
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["index"], error["field"]) == (1, None)
    assert kit.landed(settings, "clicks") == []


def test_body_that_is_not_json_is_400(client, kit):
    response = client.post(
        "/api/clicks",
        content=b"[{oops",
        headers=auth(kit) | {"Content-Type": "application/json"},
    )

    assert response.status_code == 400


def test_json_nested_deeper_than_the_decoder_goes_is_refused_by_name(client, settings, kit):
    deep = "[" * 100_000 + "]" * 100_000

    as_array = client.post("/api/clicks", content=deep.encode(), headers=auth(kit))
    as_lines = client.post(
        "/api/clicks",
        content=(json.dumps(click()) + "\n" + deep).encode(),
        headers=auth(kit) | {"Content-Type": "application/x-ndjson"},
    )

    assert (as_array.status_code, as_array.json()["detail"]) == (400, "body is not JSON: nested too deeply")
    assert as_lines.status_code == 422
    [error] = as_lines.json()["errors"]
    assert (error["index"], error["message"]) == (1, "line is not JSON: nested too deeply")
    assert kit.landed(settings, "clicks") == []


def test_batches_over_10000_records_are_refused(client, settings, kit):
    response = client.post("/api/clicks", json=[click()] * 10_001, headers=auth(kit))

    assert response.status_code == 413
    assert kit.landed(settings, "clicks") == []


def test_empty_batch_accepts_nothing(client, kit):
    response = client.post("/api/clicks", json=[], headers=auth(kit))

    assert response.json() == {"accepted": 0, "click_ids": [], "duplicates": []}


def test_ndjson_line_separators_inside_strings_do_not_split_records(client, settings, kit):
    body = json.dumps(click(referer="https://blog.example/a\u2028b"), ensure_ascii=False)

    response = client.post(
        "/api/clicks",
        content=body.encode(),
        headers=auth(kit) | {"Content-Type": "application/x-ndjson"},
    )

    assert response.status_code == 200, response.text
    assert kit.landed(settings, "clicks")[0]["referer"] == "https://blog.example/a\u2028b"


# -- click ids sent again ---------------------------------------------------------------------


def test_a_click_id_twice_in_one_batch_is_refused_naming_both_records(client, settings, kit):
    carried = new_click_id(datetime(2026, 11, 20, 9, 59, tzinfo=UTC))

    response = client.post(
        "/api/clicks", json=[click(click_id=carried), click(), click(click_id=carried)], headers=auth(kit)
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["index"], error["field"]) == (2, "click_id")
    assert "record 0" in error["message"]
    assert kit.landed(settings, "clicks") == []


def test_a_batch_sent_again_is_answered_with_its_duplicates_and_landed_once(client, settings, kit):
    batch = [click(click_id=new_click_id()), click(click_id=new_click_id(), link_code="omar-all")]
    first = client.post("/api/clicks", json=batch, headers=auth(kit))

    again = client.post("/api/clicks", json=[*batch, click()], headers=auth(kit))

    assert first.json()["duplicates"] == []
    assert again.status_code == 200
    assert again.json()["accepted"] == 1
    assert again.json()["duplicates"] == [0, 1]
    assert again.json()["click_ids"][:2] == first.json()["click_ids"]
    assert len(kit.landed(settings, "clicks")) == 3


def test_a_click_id_already_landed_for_another_link_is_refused(client, settings, kit):
    carried = new_click_id()
    client.post("/api/clicks", json=[click(click_id=carried)], headers=auth(kit))

    response = client.post(
        "/api/clicks", json=[click(), click(click_id=carried, link_code="omar-all")], headers=auth(kit)
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["index"], error["field"]) == (1, "click_id")
    assert "already landed for link 'jane-pro'" in error["message"]
    assert len(kit.landed(settings, "clicks")) == 1


def test_a_tracking_link_click_id_imported_again_is_a_duplicate_or_a_conflict(client, settings, kit):
    client.get("/r/jane-pro", headers={"User-Agent": kit.BROWSER_UA})
    [redirected] = kit.landed(settings, "clicks")
    same = click(click_id=redirected["click_id"])
    other = click(click_id=redirected["click_id"], link_code="omar-all")

    assert client.post("/api/clicks", json=[same], headers=auth(kit)).json()["duplicates"] == [0]
    assert client.post("/api/clicks", json=[other], headers=auth(kit)).status_code == 422
    assert len(kit.landed(settings, "clicks")) == 1


def test_clicks_that_could_not_be_landed_are_not_taken_for_landed(client, settings, kit, monkeypatch):
    batch = [click(click_id=new_click_id())]

    async def disk_full(self, data):
        raise LandingError("disk full")

    with monkeypatch.context() as failing:
        failing.setattr(LandingWriter, "append_lines", disk_full)
        assert client.post("/api/clicks", json=batch, headers=auth(kit)).status_code == 503
    retried = client.post("/api/clicks", json=batch, headers=auth(kit))

    assert retried.json()["accepted"] == 1
    assert retried.json()["duplicates"] == []
    assert len(kit.landed(settings, "clicks")) == 1


# -- a big batch and everybody else -----------------------------------------------------------


@pytest.mark.e2e
def test_a_10000_record_batch_does_not_hold_up_healthz(make_settings, kit):
    settings = make_settings()
    settings.data_dir.mkdir()
    now = datetime.now(UTC)
    records = [
        click(
            clicked_at=(now - timedelta(seconds=n)).isoformat(),
            ip=f"198.51.100.{n % 250}",
            user_agent=kit.BROWSER_UA,
            referer="https://blog.example/post",
            landing_url=f"https://shop.example/pricing?utm_source=blog&n={n}",
            utm={"source": "blog"},
        )
        for n in range(10_000)
    ]
    latencies: list[float] = []
    answered_at: list[float] = []

    with ReceiverProcess(settings, kit.SECRET, kit.API_TOKEN) as receiver, ThreadPoolExecutor(1) as pool:
        posted = pool.submit(
            httpx.post, f"{receiver.url}/api/clicks", json=records, headers=auth(kit), timeout=60
        )
        with httpx.Client(base_url=receiver.url, timeout=30) as health:
            while not posted.done():
                started = time.monotonic()
                assert health.get("/healthz").status_code == 200
                latencies.append(time.monotonic() - started)
                answered_at.append(time.monotonic())
                time.sleep(0.02)
        batch_done = time.monotonic()
        response = posted.result()

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 10_000
    # Before, the batch held the event loop for its whole 3-20 s: no /healthz was answered meanwhile.
    assert sum(at < batch_done - 0.5 for at in answered_at) >= 5
    assert max(latencies) < 1.0, sorted(latencies)[-5:]
