"""Receiver test fixtures: a small program file, settings in tmp_path, clients, Stripe-style signing.

Helpers are handed to tests through the `kit` fixture (not imported), so test modules import nothing
from this folder and the suite runs under any pytest import mode.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from receiver.main import create_app
from tests.support.paths import STRIPE_FIXTURES

SECRET = "whsec_test_primary_0123456789"
API_TOKEN = "test-api-token"
IP_SALT = "test-salt"
VISITOR_IP = "203.0.113.7"
BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)
FIXTURES = STRIPE_FIXTURES

PROGRAM_TOML = """
[[affiliates]]
id = "jane"
name = "Jane Doe"

[[affiliates]]
id = "omar"
name = "Omar Haddad"

[[offers]]
id = "pro-20"
name = "Pro, 20% for 12 months"
type = "percent"
percent = 20
recurring = "fixed_period"
recurring_months = 12
attribution_window_days = 60

[[offers]]
id = "lifetime-10"
name = "10% for life"
type = "percent"
percent = 10
recurring = "lifetime"
attribution_window_days = 30

[[links]]
code = "jane-pro"
affiliate = "jane"
offer = "pro-20"
destination = "https://shop.example/pricing?plan=pro"

[[links]]
code = "omar-all"
affiliate = "omar"
offer = "lifetime-10"
destination = "https://shop.example/"
"""


@pytest.fixture
def program_path(tmp_path: Path) -> Path:
    path = tmp_path / "program.toml"
    path.write_text(PROGRAM_TOML, encoding="utf-8")
    return path


@pytest.fixture
def make_settings(tmp_path: Path, program_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "program": program_path,
            "stripe_webhook_secret": SECRET,
            "api_token": API_TOKEN,
            "ip_hash_salt": IP_SALT,
            "cookie_secure": True,
            "cookie_domain": None,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def make_client() -> Iterator[Callable[[Settings], TestClient]]:
    """Start an app (lifespan included) for the given settings; closed after the test."""
    started: list[TestClient] = []

    def make(settings: Settings) -> TestClient:
        client = TestClient(create_app(settings), follow_redirects=False, client=(VISITOR_IP, 50123))
        client.__enter__()
        started.append(client)
        return client

    yield make
    for client in started:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[[Settings], TestClient], settings: Settings) -> TestClient:
    return make_client(settings)


class Kit:
    """Constants and helpers for receiver tests."""

    SECRET = SECRET
    API_TOKEN = API_TOKEN
    IP_SALT = IP_SALT
    VISITOR_IP = VISITOR_IP
    BROWSER_UA = BROWSER_UA
    FIXTURES = FIXTURES

    @staticmethod
    def sign(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
        return sign(body, secret, timestamp)

    @staticmethod
    def stripe_event(event_id: str = "evt_1TestPaid", **overrides: Any) -> dict[str, Any]:
        return stripe_event(event_id, **overrides)

    @staticmethod
    def event_body(event: dict[str, Any]) -> bytes:
        return event_body(event)

    @staticmethod
    def landed(settings: Settings, stream: str) -> list[dict[str, Any]]:
        return landed(settings, stream)

    @staticmethod
    def landed_text(settings: Settings) -> str:
        return landed_text(settings)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


def sign(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    """A Stripe-Signature header, computed exactly as Stripe does."""
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + body
    return f"t={t},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def stripe_event(event_id: str = "evt_1TestPaid", **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": 1_790_000_000,
        "livemode": False,
        "type": "invoice.paid",
        "data": {"object": {"id": "in_123", "object": "invoice", "amount_paid": 4999}},
    }
    event.update(overrides)
    return event


def event_body(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()


def landed(settings: Settings, stream: str) -> list[dict[str, Any]]:
    """Every record landed for `stream`, file by file in name order."""
    records = []
    for path in sorted((settings.landing_dir / stream).glob("date=*/*.ndjson")):
        lines = path.read_text(encoding="utf-8").split("\n")  # NDJSON: only \n ends a record
        records.extend(json.loads(line) for line in lines if line)
    return records


def landed_text(settings: Settings) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted(settings.landing_dir.rglob("*.ndjson")))
