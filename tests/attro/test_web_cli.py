"""`attro portal link` prints a signed, expiring sign-in link; `attro web hash-password` a hash for
ATTRO_ADMIN_PASSWORD, read from stdin."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from attro.cli import main
from web.keys import key_path, signing_key
from web.passwords import verify_password
from web.portal_links import read_token


@pytest.fixture
def cli_site(base_site: Any, copy_site: Callable, monkeypatch: pytest.MonkeyPatch) -> Any:
    site = copy_site(base_site)
    monkeypatch.setenv("ATTRO_DATA_DIR", str(site.settings.data_dir))
    monkeypatch.setenv("ATTRO_PROGRAM", str(site.settings.program_path))
    monkeypatch.setenv("ATTRO_WEB_URL", "https://partners.yourapp.example")
    return site


def test_portal_link_prints_a_signed_link_that_expires_after_the_days_asked(
    cli_site: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["portal", "link", "jane", "--days", "3"]) == 0
    out = capsys.readouterr()
    url = urlsplit(out.out.strip())
    assert (url.scheme, url.netloc, url.path) == ("https", "partners.yourapp.example", "/portal/login")
    grant = read_token(signing_key(cli_site.settings), parse_qs(url.query)["token"][0])
    assert grant.affiliate_id == "jane"
    assert "valid until" in out.err
    assert stat.S_IMODE(os.stat(key_path(cli_site.settings)).st_mode) == 0o600


def test_portal_link_refuses_an_unknown_affiliate_and_bad_days(
    cli_site: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["portal", "link", "nobody"]) == 2
    assert "no affiliate 'nobody'" in capsys.readouterr().err
    assert main(["portal", "link", "jane", "--days", "0"]) == 2
    assert "--days" in capsys.readouterr().err


def test_hash_password_reads_stdin_and_prints_a_hash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long admin password\n"))
    assert main(["web", "hash-password"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("scrypt$") and "a long admin password" not in printed
    assert verify_password(printed, "a long admin password")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["web", "hash-password"]) == 2


def test_a_key_file_with_no_usable_key_is_one_line_not_a_traceback(
    cli_site: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Audit: both commands ended in a RuntimeError traceback.
    key_path(cli_site.settings).parent.mkdir(parents=True, exist_ok=True)
    # review: random bytes (not UTF-8) were a traceback too
    for content, problem in (
        (b"short\n", "holds no usable key"),
        (bytes(range(128, 176)), "cannot be read as a key"),
    ):
        key_path(cli_site.settings).write_bytes(content)
        for command in (["portal", "link", "jane"], ["web", "--port", "1"]):
            assert main(command) == 2
            err = capsys.readouterr().err
            assert err.startswith("error: ") and f"web_signing.key {problem}" in err and "delete it" in err
            assert len(err.strip().splitlines()) == 1, err
