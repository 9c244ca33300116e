"""`attro export commissions`, `attro export payouts` and `attro close-period`: exit codes 0/2 and clear
messages on bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from attro.cli import main
from models.money import format_minor
from tests.support.sites import NOW1


@pytest.fixture
def cli_site(closed_jan_site: Any, copy_site: Callable, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A copy of the January-closed site, named by ATTRO_DATA_DIR / ATTRO_PROGRAM as a user would."""
    site = copy_site(closed_jan_site)
    monkeypatch.setenv("ATTRO_DATA_DIR", str(site.settings.data_dir))
    monkeypatch.setenv("ATTRO_PROGRAM", str(site.settings.program_path))
    return site


def closed_periods(site: Any) -> list[str]:
    root = site.settings.state_dir / "closed_periods"
    return sorted(p.name for p in root.iterdir())


def test_export_commissions_writes_the_csv_and_prints_the_statement(
    cli_site: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exports"

    code = main(["export", "commissions", "--period", "2026-01", "--format", "csv", "--out", str(out)])

    printed = capsys.readouterr().out
    assert code == 0
    assert (out / "commissions-2026-01.csv").is_file()
    assert "period: 2026-01" in printed
    assert "status: closed at 2026-03-20T12:00:00Z" in printed
    assert "totals usd: gross 28.80, net 28.80, payable 28.80 (3 affiliates)" in printed
    assert "jane" in printed and "19.80" in printed
    assert f"wrote {out / 'commissions-2026-01.csv'}" in printed


def test_export_commissions_prints_a_debt_carried_forward(
    cli_site: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Review: a month whose statement only carries a debt printed "net 0.00 payable 0.00".
    refund = cli_site.sim.refund(cli_site.flows["omar_usd"], datetime(2026, 2, 10, 9, tzinfo=UTC), 4000)
    cli_site.land_events(refund.events, datetime(2026, 2, 10, 9, 1, tzinfo=UTC))
    cli_site.run(NOW1)
    with duckdb.connect(str(cli_site.settings.warehouse_path), read_only=True) as con:
        period, carried = con.execute(
            "select period, carried_forward_minor from marts.affiliate_statements"
            " where affiliate_id = 'omar' and currency = 'usd' and carried_forward_minor < 0 order by period"
        ).fetchone()

    assert main(["export", "commissions", "--period", period, "--format", "csv", "--out", str(tmp_path)]) == 0

    (omar,) = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("omar ")]
    assert omar.endswith(f"carried forward {format_minor(carried, 'usd')}")


def test_export_defaults_to_the_data_dirs_exports_folder(
    cli_site: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["export", "commissions", "--period", "2026-01", "--format", "xlsx"])

    assert code == 0
    assert (cli_site.settings.exports_dir / "commissions-2026-01.xlsx").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--period", "2026-13"], "error: period must be YYYY-MM (e.g. 2026-10), got '2026-13'", id="month"
        ),
        pytest.param(["--period", "26-10"], "error: period must be YYYY-MM", id="year"),
        pytest.param(
            ["--period", "2026-01", "--out", "{file}/sub"], "error: cannot write to", id="out-under-a-file"
        ),
        pytest.param(
            ["--period", "2026-01", "--out", "{file}"],
            "a-file: not a folder (--out names the folder the files go in)",
            id="out-is-a-file",
        ),
    ],
)
def test_export_bad_input_exits_2_with_a_clear_message(
    cli_site: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")

    code = main(["export", "commissions", *[a.replace("{file}", str(blocker)) for a in args]])

    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert "Traceback" not in captured.err


def test_export_payouts_writes_the_provider_file_and_lists_who_is_not_in_it(
    cli_site: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "payouts"

    code = main(["export", "payouts", "--period", "2026-01", "--format", "wise", "--out", str(out)])

    captured = capsys.readouterr()
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["payouts-2026-01.wise.csv"]
    printed = captured.out.splitlines()
    assert (
        printed[0]
        == "payouts for 2026-01 (closed at 2026-03-20T12:00:00Z): Wise batch payment, send by email"
    )
    assert [line.split() for line in printed[1:4]] == [
        ["omar", "jpy", "500", "omar.haddad@example.com"],
        ["omar", "kwd", "1.235", "omar.haddad@example.com"],
        ["omar", "usd", "4.00", "omar.haddad@example.com"],
    ]
    assert "total usd: 4.00 (1 payout)" in printed
    # the demo's jane is paid through PayPal and lena has no payout email: finance is told, not left to notice
    heading = next(i for i, line in enumerate(printed) if line.startswith("NOT IN THE FILE"))
    assert [line.split() for line in printed[heading + 1 :]] == [
        ["jane", "usd", "19.80", "no", "wise_email", "in", "the", "program", "file"],
        ["lena", "usd", "5.00", "no", "wise_email", "in", "the", "program", "file"],
    ]
    assert "warning: 2 payable amount(s) left out of the file" in captured.err


def test_export_payouts_warns_when_an_affiliate_could_be_paid_through_both_providers(
    cli_site: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = cli_site.root / "program.toml"
    program.write_text(
        program.read_text().replace(
            'wise_email = "omar', 'paypal_email = "o@example.com"\nwise_email = "omar'
        )
    )

    code = main(["export", "payouts", "--period", "2026-01", "--format", "paypal", "--out", str(tmp_path)])

    assert code == 0
    assert (
        "note: omar also has a wise_email, so a wise file pays them too: upload one provider's file"
        " per affiliate, or keep one of the two keys"
    ) in capsys.readouterr().out


def test_export_payouts_of_an_open_month_is_refused_with_the_reason(
    cli_site: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["export", "payouts", "--period", "2026-02", "--format", "wise", "--out", str(tmp_path / "o")]
    )

    assert code == 2
    err = capsys.readouterr().err
    assert "error: 2026-02 is not closed: payouts are made from closed months only" in err
    assert "attro close-period 2026-02" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(
            ["export", "commissions", "--period", "2026-01", "--format", "pdf"], id="unknown-format"
        ),
        pytest.param(["export", "payouts", "--period", "2026-01"], id="payouts-without-format"),
        pytest.param(
            ["export", "payouts", "--period", "2026-01", "--format", "venmo"], id="unknown-provider"
        ),
        pytest.param(["export", "commissions"], id="no-period"),
        pytest.param(["close-period"], id="close-without-period"),
        pytest.param(["serve", "--port", "99999"], id="port-past-65535"),
        pytest.param(["serve", "--port", "0"], id="port-0"),
        pytest.param(["serve", "--workers", "0"], id="no-workers"),
        pytest.param(["web", "--port", "70000"], id="web-port-past-65535"),
    ],
)
def test_usage_errors_exit_2(cli_site: Any, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)

    assert exited.value.code == 2
    assert "usage: attro" in capsys.readouterr().err


@pytest.mark.parametrize("period", ["2026-13", "26-10", "2026-1", "last-month"])
def test_close_period_refuses_a_malformed_period_before_touching_anything(
    cli_site: Any, snapshot_tree: Callable, capsys: pytest.CaptureFixture[str], period: str
) -> None:
    before = snapshot_tree(cli_site.settings.data_dir)

    code = main(["close-period", period])

    assert code == 2
    assert f"error: period must be YYYY-MM (e.g. 2026-10), got '{period}'" in capsys.readouterr().err
    assert snapshot_tree(cli_site.settings.data_dir) == before


def test_close_period_refuses_a_future_month_before_running_anything(
    cli_site: Any, snapshot_tree: Callable, capsys: pytest.CaptureFixture[str]
) -> None:
    future = datetime.now(UTC).year + 1
    before = snapshot_tree(cli_site.settings.data_dir)

    code = main(["close-period", f"{future}-01"])

    assert code == 2
    assert f"error: {future}-01 is not over yet" in capsys.readouterr().err
    assert closed_periods(cli_site) == ["2026-01"]
    assert snapshot_tree(cli_site.settings.data_dir) == before  # no pipeline run either


@pytest.mark.parametrize("program", ["missing", "invalid"])
def test_close_period_with_a_program_file_it_cannot_read_says_why_without_a_traceback(
    cli_site: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    program: str,
) -> None:
    # Upgrade audit: a traceback (an upgrade from the first release moved the program file's default).
    path = tmp_path / "program.toml"
    if program == "invalid":
        path.write_text('[[affiliates]]\nid = "Bad Id"\n', encoding="utf-8")
    monkeypatch.setenv("ATTRO_PROGRAM", str(path))

    code = main(["close-period", "2026-02"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {path}")  # one line per problem, each naming the file
    assert all(line.startswith(f"error: {path}") or line.startswith(str(path)) for line in err.splitlines())
    assert "Traceback" not in err
    assert closed_periods(cli_site) == ["2026-01"]


def test_close_period_closes_a_past_month_once(
    cli_site: Any, snapshot_tree: Callable, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["close-period", "2026-02"])

    printed = capsys.readouterr().out
    assert code == 0
    assert "closed 2026-02 at " in printed
    assert f"kept in {cli_site.settings.state_dir / 'closed_periods' / '2026-02'}" in printed
    assert closed_periods(cli_site) == ["2026-01", "2026-02"]
    (count,) = cli_site.query(
        "select count(*) from marts.affiliate_statements where period = '2026-02' and closed_at is not null"
    )[0]
    assert count == 3  # jane, omar and lena (her only line is void: a row of 0s), with their closed_at

    before = snapshot_tree(cli_site.settings.data_dir)
    again = main(["close-period", "2026-02"])

    assert again == 2
    assert "error: 2026-02 was already closed at " in capsys.readouterr().err
    assert snapshot_tree(cli_site.settings.data_dir) == before  # refused before any run


def test_a_reader_that_stops_reading_ends_the_command_quietly(tmp_path: Path) -> None:
    # `attro review list | head -3`: the pipe closes before the command writes; no traceback.
    env = {**os.environ, "ATTRO_DATA_DIR": str(tmp_path / "data")}
    env.pop("ATTRO_MASTER_KEY", None)
    command = subprocess.Popen(
        [sys.executable, "-m", "attro.cli", "secrets", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=Path(__file__).parents[2],
    )
    assert command.stdout is not None and command.stderr is not None
    command.stdout.close()
    errors = command.stderr.read().decode()
    command.stderr.close()

    assert command.wait(timeout=60) == 1
    assert errors == ""
