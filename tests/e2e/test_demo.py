"""`attro demo`, the newcomer's first command: the whole story through the real receiver, then a summary."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from attro.cli import main
from tests.support.paths import DEMO_PROGRAM

pytestmark = pytest.mark.e2e

PROGRAM = DEMO_PROGRAM


def test_demo_runs_the_story_and_prints_a_summary_and_an_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATTRO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ATTRO_PROGRAM", str(PROGRAM))

    assert main(["demo"]) == 0

    out = capsys.readouterr().out
    for affiliate in ("jane", "omar", "lena"):
        assert f"\n{affiliate} " in out
    assert "money back (usd): 2 dispute 198.00, 1 dispute_reversal -99.00, 3 refund 72.00" in out
    assert "test-mode conversions: 1" in out
    assert "unattributed payments: no_click_id 5, click_expired 1" in out
    # a paid-ad click of omar's and a purchase jane made herself: held for review, visible
    assert "held for review: paid_traffic (omar), self_referral (jane); 24.70 usd held" in out
    # theo's podcast code sells with no click; a trial sign-up of jane's pays three weeks later
    assert "promotion_code 2, lead 1" in out
    con = duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True)
    try:
        kinds = dict(con.sql("select kind, count(*) from marts.commission_lines group by 1").fetchall())
        versions = {v for (v,) in con.sql("select distinct api_version from raw.stripe_events").fetchall()}
    finally:
        con.close()
    assert set(kinds) == {"commission", "reversal", "reinstatement"}
    assert {"2020-03-02", "2025-03-31.basil"} <= versions  # both payload generations
    assert list((tmp_path / "data" / "exports").glob("commissions-*.csv"))
    # it ends by saying how to browse the data, with a portal link that works in `attro web`
    assert "`attro demo --web` serves the admin and the portal" in out
    link = next(line for line in out.splitlines() if "portal link" in line).split()[-1]
    from fastapi.testclient import TestClient

    from core.settings import Settings
    from web.app import create_app

    web = TestClient(create_app(Settings(cookie_secure=False)), base_url="http://127.0.0.1:8001")
    assert web.get(link).status_code == 200
    assert "Hello, Jane Doe" in web.get("/portal").text


def test_demo_refuses_a_data_dir_holding_data_it_did_not_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    landed = tmp_path / "data" / "landing" / "stripe_events" / "date=2026-01-01" / "real.ndjson"
    landed.parent.mkdir(parents=True)
    landed.write_text('{"event_id": "evt_real"}\n')
    monkeypatch.setenv("ATTRO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ATTRO_PROGRAM", str(PROGRAM))

    assert main(["demo"]) == 2

    assert "already holds landed data" in capsys.readouterr().err
    assert landed.read_text() == '{"event_id": "evt_real"}\n'
