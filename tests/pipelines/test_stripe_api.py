"""Reading Stripe's lists with the official library: auto-pagination, retries, rate limits, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from stripe._http_client import HTTPClient

from core.settings import Settings
from pipelines.sources.stripe_api.helpers import NoApiKey, StripeApiError, connect, list_objects
from tests.support.fake_stripe import FakeStripe, masked, serve
from tests.support.sites import new_settings

KEY = "rk_test_51FakeStripeReadOnly0001"
CHARGES = "/v1/charges"
START = 1_767_225_600  # 2026-01-01


def charges(count: int) -> list[dict[str, Any]]:
    return [{"id": f"ch_{i:04d}", "object": "charge", "created": START + i} for i in range(count)]


def settings_for(root: Path, url: str, key: str | None = KEY) -> Settings:
    return new_settings(root).model_copy(update={"stripe_api_key": key, "stripe_api_base": url})


def read_all(settings: Settings, params: dict[str, Any], sleeps: list[float] | None = None) -> list[str]:
    api = connect(settings)
    with api.errors("charges"):
        found = list_objects(
            api.list_call("charges"), params, sleep=(sleeps if sleeps is not None else []).append
        )
        return [obj["id"] for obj in found]


def test_a_list_is_read_whole_through_pages_newest_first_from_the_date_asked(tmp_path: Path) -> None:
    fake = FakeStripe(KEY, objects={CHARGES: charges(250)})
    with serve(fake):
        ids = read_all(settings_for(tmp_path, fake.url), {"created": {"gte": START + 20}})

    assert ids == [f"ch_{i:04d}" for i in range(249, 19, -1)]
    pages = fake.served(CHARGES)
    assert [p.params.get("starting_after") for p in pages] == [None, "ch_0150", "ch_0050"]
    assert all(p.params["limit"] == "100" and p.params["created"] == {"gte": str(START + 20)} for p in pages)


def test_a_429_mid_list_is_waited_out_for_its_retry_after_and_the_list_goes_on(tmp_path: Path) -> None:
    fake = FakeStripe(KEY, objects={CHARGES: charges(250)})
    fake.rate_limit_once(CHARGES, request=2, retry_after=1)
    sleeps: list[float] = []
    with serve(fake):
        ids = read_all(settings_for(tmp_path, fake.url), {}, sleeps)

    assert ids == [f"ch_{i:04d}" for i in range(249, -1, -1)]  # nothing twice, nothing missing
    assert sleeps == [1.0]
    assert [r.status for r in fake.requests] == [200, 429, 200, 200]
    assert fake.requests[2].params["starting_after"] == "ch_0150"  # after the last one received


def test_a_server_error_is_retried_by_the_library(tmp_path: Path) -> None:
    fake = FakeStripe(KEY, objects={CHARGES: charges(150)})
    fake.fail_once(CHARGES, request=2)
    with serve(fake):
        ids = read_all(settings_for(tmp_path, fake.url), {})

    assert len(ids) == len(set(ids)) == 150
    assert [r.status for r in fake.requests] == [200, 500, 200]


def test_a_wrong_key_is_one_line_naming_the_401_and_never_the_key(tmp_path: Path) -> None:
    fake = FakeStripe("rk_test_51TheRightKey0000000000")
    with serve(fake), pytest.raises(StripeApiError) as raised:
        read_all(settings_for(tmp_path, fake.url), {})

    message = str(raised.value)
    assert message == f"Stripe rejected the API key (401): Invalid API Key provided: {masked(KEY)}"
    assert KEY not in message and "\n" not in message


def test_an_outage_that_outlasts_the_retries_is_a_clear_error(tmp_path: Path) -> None:
    fake = FakeStripe(KEY, objects={CHARGES: charges(250)})
    fake.go_down_after(pages=1)
    with serve(fake), pytest.raises(StripeApiError, match=r"^Stripe answered 500 while listing charges: "):
        read_all(settings_for(tmp_path, fake.url), {})


def test_an_unreachable_api_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(HTTPClient, "INITIAL_DELAY", 0.01)  # the library's retries, without the wait
    monkeypatch.setattr(HTTPClient, "MAX_DELAY", 0.02)
    settings = settings_for(tmp_path, "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(StripeApiError) as refused:
        read_all(settings, {})

    assert str(refused.value) == (
        "cannot reach Stripe's API while listing charges: [Errno 111] Connection refused"
        " (check ATTRO_STRIPE_API_BASE and the network)"
    )  # not stripe's request URL, nor its advice to write to Stripe's support about our address


def test_without_a_key_nothing_is_asked(tmp_path: Path) -> None:
    with pytest.raises(NoApiKey, match="set ATTRO_STRIPE_API_KEY or store one"):
        connect(settings_for(tmp_path, "http://127.0.0.1:9", key=None))
