"""`attro review`: list flags, approve or reject; decisions kept outside the warehouse, applied on the next
run, surviving a rebuild, and never changing a closed month."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from attro.cli import main
from attro.closing import close_period
from core.click_ids import new_click_id
from pipelines.exports import HELD_NOTE, REJECTED_NOTE, export_commissions
from simulator.landing import LandingZone
from tests.support.clock import utc
from tests.support.exports import read_csv_export
from tests.support.sites import Site


def paid_sale(site: Site, day: str, link: str = "omar-all", amount: int = 5000) -> str:
    """A sale on a click that came from a paid ad (utm_medium cpc): flagged paid_traffic, held."""
    clicked_at = utc(day) - timedelta(hours=2)
    click_id = LandingZone(site.settings).click(
        link, clicked_at, new_click_id(clicked_at), utm={"medium": "cpc"}
    )
    flow = site.land(site.sim.one_time_checkout(utc(day), amount, click_id=click_id))
    return f"cv_{flow.payment_intent}"


@pytest.fixture
def flagged(
    base_site: Site, copy_site: Callable[[Site], Site], now1: Any, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """A copy of the base site with a paid-traffic sale of omar's on 2026-03-02, run at NOW1."""
    site = copy_site(base_site)
    site.ids["flagged"] = paid_sale(site, "2026-03-02")
    site.run(now1)
    monkeypatch.setenv("ATTRO_DATA_DIR", str(site.settings.data_dir))
    monkeypatch.setenv("ATTRO_PROGRAM", str(site.settings.program_path))
    return site


def lines_of(site: Site, conversion_id: str) -> list[tuple]:
    return site.lines(f"conversion_id = '{conversion_id}'").select("period", "status", "amount_minor").rows()


def test_a_flagged_sale_is_listed_held_and_counted_apart(
    flagged: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", "list", "--open"]) == 0
    printed = capsys.readouterr().out

    (flag_id,) = [
        row[0] for row in flagged.query("select flag_id from marts.risk_flags where decision = 'open'")
    ]
    assert flag_id in printed and "paid_traffic" in printed and "utm_medium cpc" in printed
    assert "1 flag, 1 open" in printed
    assert lines_of(flagged, flagged.ids["flagged"]) == [("2026-03", "held", 500)]
    held = flagged.statements("period = '2026-03' and affiliate_id = 'omar'").row(0, named=True)
    assert held["held_minor"] == 500 and held["pending_minor"] == 0


def test_a_rejection_voids_the_lines_on_the_next_run_and_survives_a_rebuild(
    flagged: Site, now1: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    (flag_id,) = [row[0] for row in flagged.query("select flag_id from marts.risk_flags")]

    assert main(["review", "reject", flag_id, "--note", "bids on our brand"]) == 0
    assert "applied on the next run" in capsys.readouterr().out
    assert lines_of(flagged, flagged.ids["flagged"]) == [("2026-03", "held", 500)]  # not before the run
    assert main(["review", "list"]) == 0  # still open in the warehouse, and the decision says it waits
    listed = capsys.readouterr().out
    assert "rejected at " in listed and "(bids on our brand): applies on the next run" in listed
    assert "1 flag, 1 open, 1 decided and waiting for the next run" in listed
    flagged.run(now1)

    assert lines_of(flagged, flagged.ids["flagged"]) == [("2026-03", "void", 500)]
    (rule,) = flagged.lines(f"conversion_id = '{flagged.ids['flagged']}'")["rule"].to_list()
    assert rule.endswith("rejected in review (paid_traffic): bids on our brand")
    (decision, note) = flagged.query("select decision, note from marts.risk_flags")[0]
    assert (decision, note) == ("rejected", "bids on our brand")
    assert main(["review", "list"]) == 0
    assert "waiting" not in capsys.readouterr().out  # applied: nothing waits any more
    # the export says why the line is void: rejected, not taken back by a refund (audit)
    _, _, exported = read_csv_export(
        export_commissions(flagged.settings, "2026-03", "csv", tmp_path).files[0]
    )
    (line,) = [row for row in exported if row["conversion_id"] == flagged.ids["flagged"]]
    assert (line["status"], line["note"]) == ("void", REJECTED_NOTE)

    rebuilt = Site(tmp_path / "rebuilt")  # landing zone, program file and state: nothing else
    for part in ("landing", "state"):
        shutil.copytree(flagged.settings.data_dir / part, rebuilt.settings.data_dir / part)
    shutil.copyfile(flagged.settings.program_path, rebuilt.settings.program_path)
    rebuilt.run(now1)
    assert lines_of(rebuilt, flagged.ids["flagged"]) == [("2026-03", "void", 500)]


def test_a_rejection_still_voids_the_sale_after_its_rule_is_turned_off_and_stays_listed(
    flagged: Site, now1: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    (flag_id,) = [row[0] for row in flagged.query("select flag_id from marts.risk_flags")]
    assert main(["review", "reject", flag_id, "--note", "bids on our brand"]) == 0
    program = flagged.settings.program_path
    program.write_text(program.read_text() + '\n[risk]\npaid_traffic = "off"\n')
    flagged.run(now1)

    assert lines_of(flagged, flagged.ids["flagged"]) == [("2026-03", "void", 500)]
    capsys.readouterr()
    assert main(["review", "list"]) == 0
    listed = capsys.readouterr().out
    assert flag_id in listed and "rejected" in listed and "the rule no longer raises it" in listed

    assert main(["review", "approve", flag_id]) == 0  # a person changes their mind: it pays again
    flagged.run(now1)
    assert lines_of(flagged, flagged.ids["flagged"]) == [("2026-03", "pending", 500)]
    (detail,) = flagged.query("select detail from marts.risk_flags where flag_id = ?", [flag_id])[0]
    assert detail.count("kept as decided") == 1  # decided again: the note once, not twice


def test_an_approval_after_the_month_closed_pays_in_the_first_open_month(
    base_site: Site, copy_site: Callable[[Site], Site], now1: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = copy_site(base_site)
    conversion = paid_sale(site, "2026-02-20")
    site.run(now1)
    closed = close_period(site.settings, "2026-02", force=True, now=now1)
    assert closed["held"] == 1  # `attro close-period` says a held line was frozen held (audit)
    assert site.run(now1)["marts/risk_flags"]["held"] == {"usd": 500}  # what `attro run` says is held
    frozen = site.statements("period = '2026-02' and affiliate_id = 'omar'").row(0, named=True)
    (flag_id,) = [row[0] for row in site.query("select flag_id from marts.risk_flags")]
    monkeypatch.setenv("ATTRO_DATA_DIR", str(site.settings.data_dir))
    monkeypatch.setenv("ATTRO_PROGRAM", str(site.settings.program_path))

    assert main(["review", "approve", flag_id]) == 0
    # decided: the closed month's frozen held line holds nothing any more
    assert site.run(now1 + timedelta(days=20))["marts/risk_flags"]["held"] == {}

    assert site.statements("period = '2026-02' and affiliate_id = 'omar'").row(0, named=True) == frozen
    assert frozen["held_minor"] == 500
    released = site.lines(f"conversion_id = '{conversion}' and period > '2026-02'")
    assert released.select("period", "kind", "amount_minor", "carried_from_period").rows() == [
        ("2026-03", "commission", 500, "2026-02")
    ]
    assert released["status"].to_list() != ["held"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["approve", "rf_0000000000000000"], "no risk flag rf_0000000000000000 in the published warehouse"),
        (["reject", "not-a-flag"], "is not a flag id"),
    ],
)
def test_a_decision_on_an_unknown_flag_is_refused(
    flagged: Site, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (flagged.settings.state_dir / "review_decisions.jsonl").exists()


def test_review_list_filters_by_affiliate(flagged: Site, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "list", "--affiliate", "jane"]) == 0
    assert capsys.readouterr().out.strip() == "no risk flags"
    frame = flagged.frame("select * from marts.risk_flags")
    assert frame.filter(pl.col("affiliate_id") == "omar").height == 1


def test_a_held_line_is_exported_apart_and_sums_to_the_statements_held(flagged: Site, tmp_path: Path) -> None:
    export = export_commissions(flagged.settings, "2026-03", "csv", tmp_path)

    _, statement, lines = read_csv_export(export.files[0])
    (held,) = [line for line in lines if line["status"] == "held"]
    assert held["in_statement"] == "false" and held["note"] == HELD_NOTE and held["amount_minor"] == "500"
    for row in statement:
        mine = [
            line
            for line in lines
            if (line["affiliate_id"], line["currency"]) == (row["affiliate_id"], row["currency"])
        ]
        assert sum(int(line["amount_minor"]) for line in mine if line["in_statement"] == "true") == int(
            row["net_minor"]
        )
        on_hold = [int(line["amount_minor"]) for line in mine if line["status"] == "held"]
        assert (sum(on_hold), len(on_hold)) == (int(row["held_minor"]), int(row["held_lines"]))
    (omar,) = [row for row in statement if row["affiliate_id"] == "omar"]
    assert omar["held"] == "5.00"
