"""`attro demo`, the newcomer's first command: the whole story through the real receiver, then a summary."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

import duckdb
import pytest

from attro.cli import main
from attro.demo import DemoError, prepare_data_dir, record_written
from core.settings import Settings
from tests.support.paths import DEMO_PROGRAM

pytestmark = pytest.mark.e2e

PROGRAM = DEMO_PROGRAM


def test_demo_runs_the_story_and_prints_a_summary_and_an_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATTRO_DATA_DIR", str(tmp_path / "data"))
    # Audit: a data dir of its own without a program file stopped the demo ("program file not found")
    monkeypatch.delenv("ATTRO_PROGRAM", raising=False)

    assert main(["demo"]) == 0

    out = capsys.readouterr().out
    assert (tmp_path / "data" / "program.toml").read_bytes() == PROGRAM.read_bytes()
    assert f"copied the demo program file {PROGRAM.resolve()}" in out
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
    monkeypatch.delenv("ATTRO_PROGRAM", raising=False)  # review: the copied demo program stayed behind

    assert main(["demo"]) == 2

    assert "already holds landed data" in capsys.readouterr().err
    assert landed.read_text() == '{"event_id": "evt_real"}\n'
    assert not (tmp_path / "data" / "program.toml").exists()


def test_the_demo_starts_from_nothing_a_run_the_receiver_or_an_export_wrote_before(tmp_path: Path) -> None:
    # A lake left behind was loaded again under the next story's landing: every payment counted twice.
    settings = Settings(data_dir=tmp_path / "data", program=PROGRAM)
    written = [
        getattr(settings, name)
        for name in dir(Settings)
        if isinstance(getattr(Settings, name), property | cached_property)
        and name.endswith(("_dir", "_path"))
        and name != "data_dir"
    ]
    for path in written:
        assert isinstance(path, Path)
        if path.is_relative_to(settings.data_dir):
            target = path / "left-over.parquet" if path.suffix == "" else path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("from the last demo")
    (settings.data_dir / ".attro-demo").write_text('{"files": null}')  # a demo stopped half way: all its own

    prepare_data_dir(settings)

    left = sorted(str(p.relative_to(settings.data_dir)) for p in settings.data_dir.rglob("*") if p.is_file())
    assert left == [".attro-demo"]


def test_a_demo_refuses_a_data_dir_where_a_secret_was_stored_before_anything_landed(tmp_path: Path) -> None:
    # Review: with no marker and nothing landed, `attro secrets set-stripe`'s store was deleted.
    settings = Settings(data_dir=tmp_path / "data", program=PROGRAM)
    for name in ("secrets.json", "master.key"):
        (settings.state_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (settings.state_dir / name).write_text("a person's secret")

    with pytest.raises(DemoError, match="holds data the last demo did not write"):
        prepare_data_dir(settings)
    assert (settings.state_dir / "secrets.json").read_text() == "a person's secret"


def test_a_failed_secrets_command_lock_alone_does_not_stop_the_demo(tmp_path: Path) -> None:
    # Review: `attro secrets remove <typo>` leaves an empty lock file, and the demo refused the dir.
    settings = Settings(data_dir=tmp_path / "data", program=PROGRAM)
    settings.state_dir.mkdir(parents=True)
    (settings.state_dir / "secrets.lock").write_text("")

    prepare_data_dir(settings)


@pytest.mark.parametrize(
    "kept",
    ["state/closed_periods/2026-09/closed.json", "state/review_decisions.jsonl", "state/secrets.json"],
)
def test_a_demo_refuses_a_data_dir_an_earlier_release_demo_marked_holding_a_persons_state(
    tmp_path: Path, kept: str
) -> None:
    # Upgrade audit: a marker from before the list was kept (plain text) let the demo delete the closed
    # months, decisions and stored secrets an operator added to the old demo's data dir.
    settings = Settings(data_dir=tmp_path / "data", program=PROGRAM)
    (settings.data_dir / ".attro-demo").parent.mkdir(parents=True)
    (settings.data_dir / ".attro-demo").write_text(
        "This data dir is written by `attro demo` and reset on each run"
    )
    landed = settings.landing_dir / "stripe_events" / "date=2026-11-01" / "demo-1-0000dddd.ndjson"
    landed.parent.mkdir(parents=True)
    landed.write_text('{"event_id": "evt_demo"}\n')
    for name in ("ip_hash_salt", "offer_terms.jsonl"):  # what that demo wrote under state/
        (settings.state_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (settings.state_dir / name).write_text("the demo's")
    added = settings.data_dir / kept
    added.parent.mkdir(parents=True, exist_ok=True)
    added.write_text("a person's work")

    with pytest.raises(DemoError, match=re.escape(f"holds data the last demo did not write ({kept})")):
        prepare_data_dir(settings)
    assert added.read_text() == "a person's work" and landed.exists()

    added.unlink()  # without it, the old demo's data dir is the demo's to reset
    prepare_data_dir(settings)
    assert not landed.exists()


def test_the_demo_refuses_a_data_dir_whose_lake_it_did_not_write(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", program=PROGRAM)
    kept = settings.lake_dir / "raw" / "stripe_events" / "part-0.parquet"
    kept.parent.mkdir(parents=True)
    kept.write_text("a real merchant's history")

    with pytest.raises(DemoError, match="already holds landed data"):
        prepare_data_dir(settings)
    assert kept.read_text() == "a real merchant's history"


@pytest.mark.parametrize(
    "later",
    [
        "landing/stripe_events/date=2026-12-04/vm-1654-0000aaaa.ndjson",  # `attro serve` on the demo's data
        "state/closed_periods/2026-10/closed.json",  # `attro close-period`
        "state/review_decisions.jsonl",  # `attro review approve`
        "state/secrets.json",  # `attro secrets set-stripe`
    ],
)
def test_a_second_demo_refuses_to_delete_what_a_person_added_after_the_first(
    tmp_path: Path, later: str
) -> None:
    # Audit: the marker alone made the demo reset the data dir: a newcomer following the README on the
    # demo's data lost their webhooks, closed months, decisions and stored secrets to the next demo.
    settings = Settings(data_dir=tmp_path / "data", program=PROGRAM)
    prepare_data_dir(settings)
    demo_file = settings.landing_dir / "stripe_events" / "date=2026-12-01" / "demo-1-0000bbbb.ndjson"
    demo_file.parent.mkdir(parents=True)
    demo_file.write_text('{"event_id": "evt_demo"}\n')
    (settings.state_dir / "web_signing.key").parent.mkdir(parents=True, exist_ok=True)
    (settings.state_dir / "web_signing.key").write_text("key")
    record_written(settings)
    prepare_data_dir(settings)  # the demo's own files: reset, the signing key kept (links stay valid)
    assert not demo_file.exists() and (settings.state_dir / "web_signing.key").read_text() == "key"
    demo_file.parent.mkdir(parents=True)
    demo_file.write_text('{"event_id": "evt_demo"}\n')
    record_written(settings)
    added = settings.data_dir / later
    added.parent.mkdir(parents=True, exist_ok=True)
    added.write_text("a person's work")

    with pytest.raises(
        DemoError, match=r"holds data the last demo did not write \(.+\); a demo would delete it"
    ):
        prepare_data_dir(settings)
    assert added.read_text() == "a person's work"
    assert demo_file.exists()


def test_a_demo_stopped_half_way_is_started_afresh_by_the_next(tmp_path: Path) -> None:
    # Review: the marker listed nothing until the demo ended: after Ctrl-C, the next demo refused the
    # files the stopped one had landed as "not written by the demo".
    settings = Settings(data_dir=tmp_path / "data", program=PROGRAM)
    prepare_data_dir(settings)
    landed = settings.landing_dir / "clicks" / "date=2026-12-01" / "demo-1-0000cccc.ndjson"
    landed.parent.mkdir(parents=True)
    landed.write_text('{"click_id": "x"}\n')  # ... and then Ctrl-C, before record_written

    prepare_data_dir(settings)

    assert not landed.exists()
