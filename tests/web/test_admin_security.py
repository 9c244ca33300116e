"""The admin is closed to anyone without the password: every page refuses an anonymous request, the
session cookie is HttpOnly, Secure and SameSite=Strict, every form needs the session's CSRF token,
and guessing the password is slowed and then refused."""

from __future__ import annotations

import asyncio
import logging
import re

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.support.web import ADMIN_PASSWORD, Web, csrf_token, make_web
from web.passwords import AdminPassword, hash_password, verify_password
from web.routes import admin

# Values for the admin routes' path parameters: well-formed, so only the missing session can refuse.
PATH_VALUES = {"period": "2026-01", "fmt": "csv", "flag_id": "rf_0000000000000000", "affiliate_id": "jane"}
OPEN_ROUTES = {("GET", "/admin/login"), ("POST", "/admin/login")}


def admin_requests() -> list[tuple[str, str]]:
    """Every admin route, with its path parameters filled in."""
    found = []
    for route in admin.router.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/admin"):
            path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], route.path)
            found += [(method, path) for method in route.methods if (method, route.path) not in OPEN_ROUTES]
    return sorted(found)


def test_every_admin_page_refuses_an_anonymous_request(web: Web) -> None:
    requests = admin_requests()
    assert len(requests) >= 12  # the pages, the downloads, the forms
    client = web.client()
    for method, path in requests:
        answer = client.request(method, path, follow_redirects=False)
        if method == "GET":
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"] == "/admin/login"
        else:
            assert answer.status_code in (401, 403), (method, path, answer.status_code)
        assert "jane" not in answer.text, (method, path)


def test_a_forged_or_tampered_admin_cookie_is_refused(web: Web) -> None:
    signed_in = web.admin()
    cookie = signed_in.cookies["attro_admin"]
    body, signature = cookie.rsplit(".", 1)
    # a changed first signature character (the last ones carry padding bits a decoder may drop)
    tampered = f"{body}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    for forged in (tampered, body + ".x", "e30.abc.def"):
        client = web.client()
        client.cookies.set("attro_admin", forged, path="/admin")
        assert client.get("/admin/conversions", follow_redirects=False).status_code == 303
    # an anonymous session (the login form's) is a valid signature but not a sign-in
    anonymous = web.client()
    anonymous.get("/admin/login")
    assert anonymous.get("/admin/conversions", follow_redirects=False).status_code == 303


def test_signing_in_sets_a_strict_http_only_secure_cookie(own_web) -> None:
    web = own_web(cookie_secure=True)
    client = web.client(https=True)
    page = client.get("/admin/login")
    token = csrf_token(page.text)
    answer = client.post(
        "/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("attro_admin=")
    for attribute in ("httponly", "secure", "samesite=strict", "path=/admin"):
        assert attribute in cookie


def test_a_wrong_password_is_refused_after_a_delay(web: Web) -> None:
    client = web.client()
    token = csrf_token(client.get("/admin/login").text)
    answer = client.post("/admin/login", data={"password": "guess", "csrf_token": token})
    assert answer.status_code == 401
    assert "wrong password" in answer.text
    assert "attro_admin" not in answer.headers.get("set-cookie", "") or "admin" not in answer.text


def test_five_failures_from_one_address_then_429(own_web) -> None:
    web = own_web()
    client = web.client()
    token = csrf_token(client.get("/admin/login").text)
    for _ in range(5):
        assert client.post("/admin/login", data={"password": "guess", "csrf_token": token}).status_code == 401
    refused = client.post("/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": token})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0


def test_a_burst_of_parallel_guesses_gets_no_more_than_five_checked(own_web) -> None:
    web = own_web()
    client = web.client()
    token = csrf_token(client.get("/admin/login").text)
    cookies = dict(client.cookies)

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=web.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", cookies=cookies
        ) as guesser:
            answers = await asyncio.gather(
                *(
                    guesser.post("/admin/login", data={"password": f"guess{i}", "csrf_token": token})
                    for i in range(20)
                )
            )
        return sorted(answer.status_code for answer in answers)

    assert asyncio.run(burst()) == [401] * 5 + [429] * 15


def test_login_and_every_form_need_the_sessions_csrf_token(web: Web) -> None:
    client = web.client()
    client.get("/admin/login")
    assert client.post("/admin/login", data={"password": ADMIN_PASSWORD}).status_code == 403
    wrong_token = {"password": ADMIN_PASSWORD, "csrf_token": "x"}
    assert client.post("/admin/login", data=wrong_token).status_code == 403
    # no session at all (a cross-site form): refused too
    assert web.client().post("/admin/login", data={"password": ADMIN_PASSWORD}).status_code == 403

    admin = web.admin()
    other = web.admin()  # another session's token is not this session's
    foreign = csrf_token(other.get("/admin/review").text)
    for path, data in (
        ("/admin/review/rf_0000000000000000", {"decision": "approve"}),
        ("/admin/affiliates/jane/portal-link", {"days": "7"}),
        ("/admin/logout", {}),
    ):
        assert admin.post(path, data=data).status_code == 403, path
        assert admin.post(path, data={**data, "csrf_token": foreign}).status_code == 403, path
    assert admin.get("/admin/conversions", follow_redirects=False).status_code == 200  # still signed in


def test_signing_out_ends_the_session(web: Web) -> None:
    admin = web.admin()
    token = csrf_token(admin.get("/admin/conversions").text)
    assert admin.post("/admin/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert admin.get("/admin/conversions", follow_redirects=False).status_code == 303


def test_a_copy_of_the_cookie_taken_before_signing_out_is_refused_after_it(own_web) -> None:
    web = own_web()
    admin, other = web.admin(), web.admin()  # two browsers signed in
    copied = admin.cookies["attro_admin"]  # e.g. left on a shared computer
    token = csrf_token(admin.get("/admin/conversions").text)
    assert admin.post("/admin/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303

    thief = web.client()
    thief.cookies.set("attro_admin", copied, path="/admin")
    assert thief.get("/admin/conversions", follow_redirects=False).status_code == 303  # to the login form
    assert other.get("/admin/conversions").status_code == 200  # only that session ended
    # and so does every `attro web` process sharing the data dir, restarted ones too
    again = make_web_like(web)
    thief_again = again.client()
    thief_again.cookies.set("attro_admin", copied, path="/admin")
    assert thief_again.get("/admin/conversions", follow_redirects=False).status_code == 303


def make_web_like(web: Web) -> Web:
    from web.app import create_app

    return Web(web.settings, create_app(web.settings))


def test_changing_the_password_signs_every_admin_out(web: Web, web_site) -> None:
    cookie = web.admin().cookies["attro_admin"]
    changed = make_web(web_site, admin_password=hash_password("another long password"))
    client = changed.client()
    client.cookies.set("attro_admin", cookie, path="/admin")
    assert client.get("/admin/conversions", follow_redirects=False).status_code == 303


def test_without_a_password_the_admin_is_switched_off(web_site) -> None:
    web = make_web(web_site, admin_password=None)
    client = web.client()
    page = client.get("/admin/login")
    assert "switched off" in page.text
    answer = client.post("/admin/login", data={"password": "", "csrf_token": csrf_token(page.text)})
    assert answer.status_code == 401


def test_a_plain_password_is_hashed_in_memory_with_a_warning_and_never_logged(web_site, caplog) -> None:
    plain = "plain but long enough 123"
    with caplog.at_level(logging.INFO):
        web = make_web(web_site, admin_password=plain)
        client = web.client()
        token = csrf_token(client.get("/admin/login").text)
        assert client.post("/admin/login", data={"password": plain, "csrf_token": token}).status_code == 200
    assert "hash" in caplog.text and "ATTRO_ADMIN_PASSWORD" in caplog.text
    assert plain not in caplog.text
    assert web.app.state.parts.password.encoded.startswith("scrypt$")


def test_password_hashes_carry_their_salt_and_parameters() -> None:
    first, second = hash_password(ADMIN_PASSWORD), hash_password(ADMIN_PASSWORD)
    assert first != second  # a fresh salt each time
    assert first.startswith("scrypt$n=16384,r=8,p=1$")
    assert verify_password(first, ADMIN_PASSWORD) and not verify_password(first, ADMIN_PASSWORD + "x")
    import base64
    import hashlib

    salt = b"0123456789abcdef"
    digest = hashlib.pbkdf2_hmac("sha256", b"pw", salt, 200_000)
    b64 = [base64.urlsafe_b64encode(part).decode().rstrip("=") for part in (salt, digest)]
    pbkdf2 = f"pbkdf2_sha256$200000${b64[0]}${b64[1]}"
    assert AdminPassword.from_setting(pbkdf2).matches("pw")


@pytest.mark.parametrize("bad", ["scrypt$n=16384$abc", "pbkdf2_sha256$10$c2FsdHNhbHQ$ZGlnZXN0ZGlnZXN0"])
def test_a_broken_hash_stops_the_start(bad: str) -> None:
    from web.passwords import PasswordError

    with pytest.raises(PasswordError) as refused:
        AdminPassword.from_setting(bad)
    assert "unpack" not in str(refused.value)  # said for the admin, not in the library's words (audit)


def test_pages_send_security_headers(web: Web) -> None:
    answer = web.client().get("/admin/login")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"


def test_pages_link_the_stylesheet_and_script_by_content_hash_and_those_are_cached(web: Web) -> None:
    import re

    client = web.client()
    page = client.get("/admin/login").text
    links = re.findall(r'(?:href|src)="(/static/(?:style\.css|app\.js)\?v=[0-9a-f]{12})"', page)
    assert len(links) == 2, page[:600]
    for link in links:
        answer = client.get(link)
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.headers["x-content-type-options"] == "nosniff"  # the other headers still apply
    unversioned = client.get("/static/style.css")
    assert unversioned.headers["cache-control"] == "no-cache"  # revalidated: it may change on upgrade
