"""GET /r/{code}: the tracking link lands a click, sets the cookie and redirects to the destination."""

from __future__ import annotations

import hashlib
import hmac
import os
from urllib.parse import parse_qsl, urlsplit

import pytest

from core.click_ids import is_click_id
from receiver.landing import LandingError, LandingWriter


def test_click_redirects_to_destination_with_visitor_query_and_our_click_id(client, settings, kit):
    response = client.get(
        "/r/jane-pro?utm_source=newsletter&utm_medium=email&utm_campaign=launch&ref=x",
        headers={"User-Agent": kit.BROWSER_UA, "Referer": "https://blog.example/post"},
    )

    assert response.status_code == 302
    [click] = kit.landed(settings, "clicks")
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "shop.example", "/pricing")
    assert parse_qsl(location.query) == [
        ("plan", "pro"),
        ("utm_source", "newsletter"),
        ("utm_medium", "email"),
        ("utm_campaign", "launch"),
        ("ref", "x"),
        ("rd_click_id", click["click_id"]),
    ]
    assert is_click_id(click["click_id"])
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_click_record_has_link_owner_hashed_ip_utm_and_no_raw_ip(client, settings, kit):
    client.get(
        "/r/jane-pro?utm_source=newsletter&utm_term=shoes",
        headers={"User-Agent": kit.BROWSER_UA, "Referer": "https://blog.example/post"},
    )

    [click] = kit.landed(settings, "clicks")
    expected_hash = hmac.new(kit.IP_SALT.encode(), kit.VISITOR_IP.encode(), hashlib.sha256).hexdigest()
    assert click == {
        "click_id": click["click_id"],
        "clicked_at": click["clicked_at"],
        "received_at": click["received_at"],
        "source": "redirect",
        "link_code": "jane-pro",
        "affiliate_id": "jane",
        "offer_id": "pro-20",
        "ip_hash": expected_hash,
        "user_agent": kit.BROWSER_UA,
        "referer": "https://blog.example/post",
        "landing_url": "http://testserver/r/jane-pro?utm_source=newsletter&utm_term=shoes",
        "utm_source": "newsletter",
        "utm_medium": None,
        "utm_campaign": None,
        "utm_term": "shoes",
        "utm_content": None,
        "is_bot": False,
    }
    assert click["clicked_at"].endswith("Z")
    assert kit.VISITOR_IP not in kit.landed_text(settings)


def test_cookie_is_lax_secure_readable_by_script_for_the_offer_window(client, settings, kit):
    response = client.get("/r/jane-pro", headers={"User-Agent": kit.BROWSER_UA})

    [click] = kit.landed(settings, "clicks")
    assert response.headers.get_list("set-cookie") == [
        f"rd_click_id={click['click_id']}; Max-Age={60 * 86400}; Path=/; SameSite=Lax; Secure"
    ]


def test_cookie_domain_and_insecure_setting_are_honoured(make_settings, make_client, kit):
    settings = make_settings(cookie_domain=".shop.example", cookie_secure=False)
    client = make_client(settings)

    response = client.get("/r/omar-all", headers={"User-Agent": kit.BROWSER_UA})

    [click] = kit.landed(settings, "clicks")
    assert response.headers["set-cookie"] == (
        f"rd_click_id={click['click_id']}; Max-Age={30 * 86400}; Path=/; Domain=.shop.example; SameSite=Lax"
    )
    assert "HttpOnly" not in response.headers["set-cookie"]


def test_visitor_supplied_click_id_is_replaced_by_ours(client, settings, kit):
    forged = "0" * 30

    response = client.get(f"/r/omar-all?rd_click_id={forged}&x=1")

    [click] = kit.landed(settings, "clicks")
    query = parse_qsl(urlsplit(response.headers["location"]).query)
    assert query == [("x", "1"), ("rd_click_id", click["click_id"])]
    assert click["click_id"] != forged


def test_destination_parameters_win_over_visitor_parameters_of_the_same_name(client):
    response = client.get("/r/jane-pro?plan=free")

    assert parse_qsl(urlsplit(response.headers["location"]).query)[0] == ("plan", "pro")
    assert ("plan", "free") not in parse_qsl(urlsplit(response.headers["location"]).query)


# /r/a%0Ab and /r/ match no route (Starlette's path convertor stops at a newline): the same page
@pytest.mark.parametrize("path", ["/r/nope", "/r/JANE-PRO", "/r/jane-pro.evil", "/r/jane-pro%0Ax", "/r/"])
def test_unknown_code_is_an_html_404_page_for_the_visitor_and_lands_nothing(client, settings, kit, path):
    # Issue 13: a page a human can read (it was a JSON body before).
    response = client.get(path, headers={"User-Agent": kit.BROWSER_UA})

    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Link not found</h1>" in response.text
    assert response.headers["cache-control"] == "no-store"  # a link added later works at once
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers
    assert kit.landed(settings, "clicks") == []


def test_the_404_page_repeats_nothing_from_the_request(client):
    response = client.get("/r/%3Cscript%3Ealert(1)%3C%2Fscript%3E?q=%3Cb%3E")

    assert response.status_code == 404
    assert "script" not in response.text and "<b>" not in response.text
    assert response.headers["content-security-policy"] == "default-src 'none'"


def test_encoded_slashes_in_the_code_do_not_redirect(client, settings, kit):
    response = client.get("/r/%2F%2Fevil.example")

    assert response.status_code == 404
    assert "location" not in response.headers
    assert kit.landed(settings, "clicks") == []


@pytest.mark.parametrize("path", ["/r/nope", "/r/nope?next=https://evil.example/", "/r/%2F%2Fevil.example"])
def test_unknown_code_redirects_to_exactly_the_fallback_url_with_no_cookie_and_no_click(
    make_settings, make_client, kit, path
):
    settings = make_settings(fallback_url="https://shop.example/?from=affiliate")
    client = make_client(settings)

    response = client.get(path, headers={"User-Agent": kit.BROWSER_UA})

    assert response.status_code == 302
    assert response.headers["location"] == "https://shop.example/?from=affiliate"  # the visitor adds nothing
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    assert kit.landed(settings, "clicks") == []


def test_known_codes_still_redirect_to_their_own_destination_when_a_fallback_is_set(
    make_settings, make_client, kit
):
    client = make_client(make_settings(fallback_url="https://shop.example/"))

    response = client.get("/r/jane-pro", headers={"User-Agent": kit.BROWSER_UA})

    assert urlsplit(response.headers["location"]).path == "/pricing"
    assert "rd_click_id=" in response.headers["set-cookie"]


@pytest.mark.parametrize(
    ("user_agent", "bot"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
        ("", True),
        ("curl/8.5.0", True),
        (None, False),
    ],
)
def test_bot_clicks_are_landed_and_flagged(client, settings, kit, user_agent, bot):
    headers = {"User-Agent": user_agent if user_agent is not None else kit.BROWSER_UA}

    response = client.get("/r/omar-all", headers=headers)

    assert response.status_code == 302
    [click] = kit.landed(settings, "clicks")
    assert click["is_bot"] is bot


def test_landing_failure_still_redirects_but_hands_out_no_click_id(client, settings, kit, monkeypatch):
    async def failing_append(self, records):
        raise LandingError("disk full")

    monkeypatch.setattr(LandingWriter, "append", failing_append)

    response = client.get("/r/omar-all?utm_source=x&rd_click_id=" + "1" * 30)

    assert response.status_code == 302
    assert response.headers["location"] == "https://shop.example/?utm_source=x"
    assert "set-cookie" not in response.headers
    assert not os.path.exists(settings.landing_dir / "clicks")


def test_a_long_user_agent_and_referer_are_stored_cut_to_8192_characters(client, settings, kit):
    user_agent = kit.BROWSER_UA + " " + "x" * 12_000
    referer = "https://blog.example/?q=" + "r" * 12_000

    response = client.get("/r/jane-pro", headers={"User-Agent": user_agent, "Referer": referer})

    assert response.status_code == 302
    [click] = kit.landed(settings, "clicks")
    assert click["user_agent"] == user_agent[:8192]
    assert click["referer"] == referer[:8192]
    assert click["is_bot"] is False


def test_a_long_utm_value_is_stored_cut_to_8192_characters(client, settings, kit):
    # Audit: a 31,000-character utm_source was landed whole (the clicks API refuses over 8,192).
    campaign = "c" * 12_000

    response = client.get(
        "/r/jane-pro", params={"utm_campaign": campaign}, headers={"User-Agent": kit.BROWSER_UA}
    )

    assert response.status_code == 302
    [click] = kit.landed(settings, "clicks")
    assert click["utm_campaign"] == campaign[:8192]


def test_a_request_head_over_the_limit_is_431_and_lands_nothing(make_settings, make_client, kit):
    # The server refuses it before reading it whole (tests/receiver/test_serving.py); the app refuses
    # it too, however it is served.
    settings = make_settings(max_header_bytes=4096)
    client = make_client(settings)

    response = client.get("/r/jane-pro", headers={"User-Agent": "a" * 5000})

    assert response.status_code == 431
    assert "larger than 4096 bytes" in response.json()["detail"]
    assert kit.landed(settings, "clicks") == []
    assert client.get("/r/jane-pro", headers={"User-Agent": kit.BROWSER_UA}).status_code == 302


def test_head_answers_where_the_link_goes_but_lands_no_click_and_sets_no_cookie(client, settings, kit):
    # Link checkers and uptime monitors ask with HEAD: that is no visit.
    response = client.head("/r/jane-pro?ref=x", headers={"User-Agent": kit.BROWSER_UA})
    unknown = client.head("/r/nope")

    assert response.status_code == 302
    assert response.headers["location"] == "https://shop.example/pricing?plan=pro&ref=x"
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert unknown.status_code == 404
    assert kit.landed(settings, "clicks") == []
