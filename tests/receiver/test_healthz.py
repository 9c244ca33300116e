"""GET /healthz (webhooks verifiable, landing writable) and the app factory."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from core.program import ProgramError
from core.secrets import SecretStore
from receiver.main import create_app


def test_healthz_is_ok_when_landing_is_writable(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_healthz_is_503_with_reason_when_landing_is_not_writable(client, settings):
    settings.landing_dir.mkdir(parents=True)
    (settings.landing_dir / "clicks").write_text("a file where the stream folder belongs")

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["ok"] is False
    assert "clicks" in response.json()["detail"]
    (settings.landing_dir / "clicks").unlink()
    assert client.get("/healthz").status_code == 200


def test_healthz_is_503_while_no_webhook_secret_is_configured(make_settings, make_client):
    client = make_client(make_settings(stripe_webhook_secret=None))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["detail"].startswith("cannot verify webhooks: no webhook secret configured")


def test_healthz_stays_200_and_warns_when_no_api_token_is_configured(make_settings, make_client):
    # Tracking links and webhooks work; only the bulk clicks API does not.
    client = make_client(make_settings(api_token=None))

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "warnings": ["no API token configured (set ATTRO_API_TOKEN): POST /api/clicks answers 503"],
    }


def test_healthz_503_still_carries_the_warnings(make_settings, make_client):
    client = make_client(make_settings(stripe_webhook_secret=None, api_token=None))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["warnings"] == [
        "no API token configured (set ATTRO_API_TOKEN): POST /api/clicks answers 503"
    ]


def _store_under_another_key(make_settings):
    """Settings whose master key cannot open the secret store that is there."""
    SecretStore(make_settings(stripe_webhook_secret=None, master_key=Fernet.generate_key().decode())).add(
        "whsec_stored_secret_0001"
    )
    return make_settings(stripe_webhook_secret=None, master_key=Fernet.generate_key().decode())


def test_healthz_and_webhooks_are_503_naming_a_wrong_master_key(make_settings, make_client, kit):
    client = make_client(_store_under_another_key(make_settings))
    body = kit.event_body(kit.stripe_event())

    health = client.get("/healthz")
    webhook = client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": kit.sign(body)})

    assert (health.status_code, webhook.status_code) == (503, 503)
    assert "wrong ATTRO_MASTER_KEY or key file" in health.json()["detail"]
    assert webhook.json()["detail"] == (
        "cannot verify webhooks: cannot decrypt the secret store: wrong ATTRO_MASTER_KEY or key file"
    )


def test_healthz_is_green_once_a_stored_secret_is_readable(make_settings, make_client):
    settings = make_settings(stripe_webhook_secret=None)
    client = make_client(settings)
    assert client.get("/healthz").status_code == 503

    SecretStore(settings).add("whsec_stored_secret_0001")
    client.app.state.signing_secrets.check_interval = 0  # the store is looked at once a second

    assert client.get("/healthz").status_code == 200


def test_invalid_program_file_stops_the_app_from_being_built(make_settings, program_path):
    program_path.write_text('[[links]]\ncode = "x"\naffiliate = "ghost"\n', encoding="utf-8")

    with pytest.raises(ProgramError):
        create_app(make_settings())


def test_missing_program_file_stops_the_app_from_being_built(make_settings, tmp_path):
    with pytest.raises(ProgramError, match="not found"):
        create_app(make_settings(program=tmp_path / "missing.toml"))


def test_healthz_answers_head_as_uptime_monitors_ask(client):
    response = client.head("/healthz")

    assert response.status_code == 200
    assert response.content == b""


def test_a_webhook_503_names_the_store_by_its_setting_not_the_server_path(make_settings, make_client, kit):
    # Audit: /healthz said `$ATTRO_DATA_DIR/state/secrets.json`, the webhook's 503 (which Stripe's
    # dashboard shows, and anyone can ask for unsigned) the server's absolute path.
    settings = make_settings(stripe_webhook_secret=None)
    SecretStore(settings).add("whsec_stored_secret_0001")
    (settings.state_dir / "secrets.json").write_text("garbage\n")
    client = make_client(settings)

    webhook = client.post("/api/webhooks/stripe", content=b"{}")
    health = client.get("/healthz")

    assert (webhook.status_code, health.status_code) == (503, 503)
    detail = webhook.json()["detail"]
    assert "$ATTRO_DATA_DIR/state/secrets.json" in detail and str(settings.data_dir) not in detail
    assert detail == health.json()["detail"]
