"""The web's test kit: a site with hostile program and event text and a risk flag, and clients
signed in as the admin or as an affiliate.

`web_story` changes a copy of the base site: the program file carries `<script>` in an affiliate's
name, a link destination, a promotion code and the portal's name; jane sells to herself (a
self_referral flag holding the commission); a click arrives with `<script>` in its UTM source and
referer, and a sale's customer email holds markup. Pages must show all of it as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.click_ids import new_click_id
from core.settings import Settings
from simulator.landing import LandingZone
from tests.support.clock import utc
from tests.support.sites import NOW1, Site
from web.app import create_app
from web.keys import signing_key
from web.passwords import hash_password
from web.portal_links import make_token

ADMIN_PASSWORD = "correct horse battery staple"
HOSTILE = "<script>alert('attro')</script>"
HOSTILE_EMAIL = "<img src=x onerror=alert(1)>@customer.example"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@cache
def admin_password_hash() -> str:
    return hash_password(ADMIN_PASSWORD)  # scrypt: once per test session


def web_story(site: Site) -> None:
    """Hostile text in the program file and in landed data, a self-referral flag; run at NOW1."""
    program = site.root / "program.toml"
    text = program.read_text()
    text = text.replace('name = "Jane Doe"', f'name = "Jane {HOSTILE} Doe"')
    text = text.replace(
        'destination = "https://yourapp.example/pricing"',
        f'destination = "https://yourapp.example/pricing?x={HOSTILE}"',
    )
    text += (
        f'\n[[codes]]\ncode = "{HOSTILE[:40]}"\naffiliate = "jane"\noffer = "pro-20"\n'
        f'\n[portal]\nname = "Partners {HOSTILE}"\nprimary_color = "#0a7d5a"\n'
        'support_email = "partners@yourapp.example"\n'
    )
    program.write_text(text)
    sim = site.sim
    click = site.land_click("jane-pro", utc("2026-03-14"))
    self_sale = site.land(
        sim.one_time_checkout(utc("2026-03-15"), 9900, click_id=click, email="jane@example.com")
    )
    site.ids["self_referral_payment"] = self_sale.payment_intent or ""
    hostile_click = LandingZone(site.settings).click(
        "jane-pro",
        utc("2026-03-16"),
        new_click_id(utc("2026-03-16")),
        utm={"source": HOSTILE, "medium": "email"},
        referer=f"https://blog.example/{HOSTILE}",
    )
    sale = sim.one_time_checkout(utc("2026-03-17"), 4900, click_id=hostile_click, email=HOSTILE_EMAIL)
    site.land(sale)
    site.ids["hostile_email_payment"] = sale.payment_intent or ""
    nobody = site.land(sim.bare_charge(utc("2026-03-12"), 1200))  # no click, no code: unattributed
    site.ids["no_click_charge"] = nobody.charge or ""
    site.run(NOW1)


def web_settings(site: Site, **overrides: object) -> Settings:
    """The site's settings with the admin password (hashed) and cookies a plain-http client sends."""
    values: dict[str, object] = {
        "data_dir": site.root / "data",
        "program": site.root / "program.toml",
        "admin_password": admin_password_hash(),
        "cookie_secure": False,
        "web_url": "http://testserver",
        "receiver_url": "https://track.yourapp.example",
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


def csrf_token(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Web:
    """One app over a site, and clients for it."""

    settings: Settings
    app: FastAPI

    def client(self, https: bool = False) -> TestClient:
        return TestClient(self.app, base_url=f"{'https' if https else 'http'}://testserver")

    def admin(self) -> TestClient:
        """A client signed in as the admin, through the login form."""
        client = self.client()
        token = csrf_token(client.get("/admin/login").text)
        answer = client.post(
            "/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": token}, follow_redirects=False
        )
        assert answer.status_code == 303, answer.text
        return client

    def portal_token(self, affiliate: str, days: int = 7) -> str:
        return make_token(signing_key(self.settings), affiliate, days)

    def portal(self, affiliate: str) -> TestClient:
        """A client signed in as `affiliate`, through a portal link."""
        client = self.client()
        answer = client.get("/portal/login", params={"token": self.portal_token(affiliate)})
        assert answer.status_code == 200, answer.text
        return client


def make_web(site: Site, **overrides: object) -> Web:
    settings = web_settings(site, **overrides)
    return Web(settings, create_app(settings))


def page_csrf(client: TestClient, path: str) -> str:
    return csrf_token(client.get(path).text)
