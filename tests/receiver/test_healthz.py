"""GET /healthz and the app factory."""

from __future__ import annotations

import pytest

from core.program import ProgramError
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


def test_invalid_program_file_stops_the_app_from_being_built(make_settings, program_path):
    program_path.write_text('[[links]]\ncode = "x"\naffiliate = "ghost"\n', encoding="utf-8")

    with pytest.raises(ProgramError):
        create_app(make_settings())


def test_missing_program_file_stops_the_app_from_being_built(make_settings, tmp_path):
    with pytest.raises(ProgramError, match="not found"):
        create_app(make_settings(program=tmp_path / "missing.toml"))
