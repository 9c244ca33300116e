"""`attro serve` at start-up: one warning line per thing that will not work, a refused signing secret."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from attro.cli import main
from tests.support.paths import DEMO_PROGRAM

SECRET = "whsec_serve_test_0123456789"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """uvicorn.run's keyword arguments, one dict per launch; nothing listens."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    return calls


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir with the demo program file, where `attro serve` finds it by default."""
    shutil.copy(DEMO_PROGRAM, tmp_path / "program.toml")
    return tmp_path


def test_serve_warns_in_one_line_each_when_no_webhook_secret_or_api_token_is_configured(
    attro_env: Callable[..., None], data_dir: Path, served: list, capsys: pytest.CaptureFixture[str]
) -> None:
    attro_env(data_dir=str(data_dir), master_key="")

    assert main(["serve"]) == 0

    assert len(served) == 1  # it still serves: tracking links work without either
    assert capsys.readouterr().err.splitlines() == [
        "warning: cannot verify webhooks: no webhook secret configured (set ATTRO_STRIPE_WEBHOOK_SECRET or "
        "run `attro secrets set-stripe`): webhooks are answered 503 until this is fixed",
        "warning: no API token configured (set ATTRO_API_TOKEN): POST /api/clicks answers 503",
    ]


def test_serve_says_nothing_when_secret_and_token_are_configured(
    attro_env: Callable[..., None], data_dir: Path, served: list, capsys: pytest.CaptureFixture[str]
) -> None:
    attro_env(data_dir=str(data_dir), stripe_webhook_secret=SECRET, api_token="a-long-random-token")

    assert main(["serve"]) == 0

    assert capsys.readouterr().err == ""


def test_serve_refuses_a_webhook_secret_that_is_not_whsec_before_listening(
    attro_env: Callable[..., None], data_dir: Path, served: list, capsys: pytest.CaptureFixture[str]
) -> None:
    attro_env(data_dir=str(data_dir), stripe_webhook_secret=f"{SECRET},sk_live_51Habcdef")

    assert main(["serve"]) == 2

    err = capsys.readouterr().err
    assert served == []
    assert err.startswith("error: ATTRO_STRIPE_WEBHOOK_SECRET: value 2 of 2 does not start with whsec_")
    assert "sk_live" not in err and SECRET not in err


def test_serve_and_web_trust_the_proxies_given_for_the_clients_address(
    attro_env: Callable[..., None], data_dir: Path, served: list, capsys: pytest.CaptureFixture[str]
) -> None:
    # Audit: the README told users behind a proxy on another host to pass --forwarded-allow-ips, which
    # neither command had: every visitor's click got the proxy's ip_hash (click_flood holds), and five
    # wrong passwords from anyone locked every admin out.
    attro_env(data_dir=str(data_dir), stripe_webhook_secret=SECRET, api_token="a-long-random-token")

    assert main(["serve", "--forwarded-allow-ips", "10.0.0.5, 10.1.0.0/16"]) == 0
    assert main(["serve"]) == 0
    assert served[0]["forwarded_allow_ips"] == "10.0.0.5,10.1.0.0/16"
    assert "forwarded_allow_ips" not in served[1]  # uvicorn's default: $FORWARDED_ALLOW_IPS, else this host

    # a network with host bits set, or `*` beside addresses: uvicorn would trust nobody (review)
    for bad in ("10.0.0.300", "proxy.internal", "", "127.0.0.1/8", "10.9.9.9,*"):
        with pytest.raises(SystemExit) as refused:
            main(["serve", "--forwarded-allow-ips", bad])
        assert refused.value.code == 2
        assert "--forwarded-allow-ips" in capsys.readouterr().err
    assert len(served) == 2
    assert main(["serve", "--forwarded-allow-ips", "127.0.0.0/8,::1, 2001:db8::/32"]) == 0
    assert served[2]["forwarded_allow_ips"] == "127.0.0.0/8,::1,2001:db8::/32"


def test_web_trusts_the_proxies_given_for_the_clients_address(
    base_site: Any, copy_site: Callable, monkeypatch: pytest.MonkeyPatch, served: list
) -> None:
    site = copy_site(base_site)
    monkeypatch.setenv("ATTRO_DATA_DIR", str(site.settings.data_dir))
    monkeypatch.setenv("ATTRO_PROGRAM", str(site.settings.program_path))

    assert main(["web", "--forwarded-allow-ips", "*"]) == 0

    assert served[0]["forwarded_allow_ips"] == "*"
