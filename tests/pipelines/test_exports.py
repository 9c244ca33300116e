"""Finance exports (CSV, Parquet, XLSX): header, totals equal to the warehouse, byte-identical closed
periods, currency exponents, atomic writes; the Dagster export job and its monthly schedule."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.definitions import build_definitions
from pipelines.exports import ExportError, export_commissions
from pipelines.resources import AttroResource

LATER = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
MUCH_LATER = datetime(2027, 2, 3, 4, 5, tzinfo=UTC)


def read_csv_export(path: Path) -> tuple[list[str], list[dict[str, str]], list[dict[str, str]]]:
    """(header lines without '# ', statement rows, line rows) of a CSV export."""
    text = path.read_text(encoding="utf-8")
    header_part, rest = text.split("# section: statement\n")
    statement_part, lines_part = rest.split("\n# section: lines\n")
    header = [line.removeprefix("# ") for line in header_part.splitlines()]
    return (
        header,
        list(csv.DictReader(io.StringIO(statement_part))),
        list(csv.DictReader(io.StringIO(lines_part))),
    )


def warehouse_totals(site: Any, period: str) -> dict[str, tuple[int, int, int]]:
    rows = site.query(
        "select currency, sum(gross_minor), sum(net_minor), sum(payable_minor)"
        " from marts.affiliate_statements where period = ? group by currency",
        [period],
    )
    return {cur: (int(g), int(n), int(p)) for cur, g, n, p in rows}


# CSV ---------------------------------------------------------------------------------------


def test_closed_period_csv_states_period_closed_at_and_totals(closed_jan_site: Any, tmp_path: Path) -> None:
    export = export_commissions(closed_jan_site.settings, "2026-01", "csv", tmp_path, now=LATER)

    assert export.files == [tmp_path / "commissions-2026-01.csv"]
    header, statement, lines = read_csv_export(export.files[0])
    assert header == [
        "Attro commission statement",
        "period: 2026-01",
        "status: closed at 2026-03-20T12:00:00Z",
        "totals jpy: gross 500, net 500, payable 500 (1 affiliates)",
        "totals kwd: gross 1.235, net 1.235, payable 1.235 (1 affiliates)",
        "totals usd: gross 28.80, net 28.80, payable 28.80 (3 affiliates)",
    ]
    assert not any("generated" in line for line in header)  # nothing depends on the time of export
    assert [(r["affiliate_id"], r["currency"], r["net_minor"], r["net"]) for r in statement] == [
        ("jane", "usd", "1980", "19.80"),
        ("lena", "usd", "500", "5.00"),
        ("omar", "jpy", "500", "500"),
        ("omar", "kwd", "1235", "1.235"),
        ("omar", "usd", "400", "4.00"),
    ]
    assert {(r["currency"], r["amount_minor"], r["amount"]) for r in lines} == {
        ("usd", "1980", "19.80"),
        ("usd", "500", "5.00"),
        ("jpy", "500", "500"),  # jpy has no minor unit
        ("kwd", "1235", "1.235"),  # kwd has three decimals
        ("usd", "400", "4.00"),
    }
    assert all("%" in r["rule"] or "flat" in r["rule"] for r in lines)


def test_open_period_csv_says_when_it_was_generated(closed_jan_site: Any, tmp_path: Path) -> None:
    export = export_commissions(closed_jan_site.settings, "2026-03", "csv", tmp_path, now=LATER)

    header, statement, lines = read_csv_export(export.files[0])
    assert header[1:3] == [
        "period: 2026-03",
        "status: open: can still change; generated at 2026-09-01T08:00:00Z",
    ]
    assert [(r["affiliate_id"], r["pending_minor"], r["payable"]) for r in statement] == [
        ("jane", "1980", "0.00")  # pending: not payable yet
    ]
    assert [(r["status"], r["amount_minor"]) for r in lines] == [("pending", "1980")]


@pytest.mark.parametrize("period", ["2026-01", "2026-02", "2026-03"])
def test_export_totals_equal_the_warehouse_to_the_minor_unit(
    closed_jan_site: Any, tmp_path: Path, period: str
) -> None:
    export = export_commissions(closed_jan_site.settings, period, "csv", tmp_path, now=LATER)
    header, statement, lines = read_csv_export(export.files[0])

    exported: dict[str, tuple[int, int, int]] = {}
    for row in statement:
        g, n, p = exported.get(row["currency"], (0, 0, 0))
        gross, net, payable = int(row["gross_minor"]), int(row["net_minor"]), int(row["payable_minor"])
        exported[row["currency"]] = (g + gross, n + net, p + payable)
    assert exported == warehouse_totals(closed_jan_site, period)
    line_sums: dict[str, int] = {}
    for row in lines:
        if row["status"] != "void":
            line_sums[row["currency"]] = line_sums.get(row["currency"], 0) + int(row["amount_minor"])
    assert line_sums == {cur: net for cur, (_g, net, _p) in exported.items()}
    for cur, (_gross, net, _payable) in exported.items():
        assert any(line.startswith(f"totals {cur}: gross ") for line in header)
        assert sum(int(r["net_minor"]) for r in statement if r["currency"] == cur) == net


def test_a_period_without_lines_exports_an_empty_statement(closed_jan_site: Any, tmp_path: Path) -> None:
    export = export_commissions(closed_jan_site.settings, "2025-12", "csv", tmp_path, now=LATER)

    header, statement, lines = read_csv_export(export.files[0])
    assert header[-1] == "totals: no commission lines in this period"
    assert statement == [] and lines == []


# byte-identical closed periods ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_exporting_a_closed_period_twice_gives_byte_identical_files(
    closed_jan_site: Any, tmp_path: Path, fmt: str
) -> None:
    first = export_commissions(closed_jan_site.settings, "2026-01", fmt, tmp_path / "a", now=LATER)
    second = export_commissions(closed_jan_site.settings, "2026-01", fmt, tmp_path / "b", now=MUCH_LATER)

    assert [p.name for p in first.files] == [p.name for p in second.files]
    for a, b in zip(first.files, second.files, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_an_open_period_export_changes_with_the_time_of_export(closed_jan_site: Any, tmp_path: Path) -> None:
    first = export_commissions(closed_jan_site.settings, "2026-03", "csv", tmp_path / "a", now=LATER)
    second = export_commissions(closed_jan_site.settings, "2026-03", "csv", tmp_path / "b", now=MUCH_LATER)

    assert first.files[0].read_bytes() != second.files[0].read_bytes()


# Parquet and XLSX ---------------------------------------------------------------------------


def test_parquet_export_is_two_files_with_the_header_in_their_metadata(
    closed_jan_site: Any, tmp_path: Path
) -> None:
    export = export_commissions(closed_jan_site.settings, "2026-01", "parquet", tmp_path, now=LATER)

    assert [p.name for p in export.files] == [
        "commissions-2026-01.statement.parquet",
        "commissions-2026-01.lines.parquet",
    ]
    for path in export.files:
        header = json.loads(pq.read_metadata(path).metadata[b"attro.header"])
        assert header[1:3] == ["period: 2026-01", "status: closed at 2026-03-20T12:00:00Z"]
    statement = pl.read_parquet(export.files[0])
    lines = pl.read_parquet(export.files[1])
    assert statement.group_by("currency").agg(pl.col("net_minor").sum()).sort("currency").rows() == [
        ("jpy", 500),
        ("kwd", 1235),
        ("usd", 2880),
    ]
    assert lines.filter(pl.col("currency") != "usd").select("currency", "amount").sort("currency").rows() == [
        ("jpy", "500"),
        ("kwd", "1.235"),
    ]
    assert lines["amount_minor"].dtype == pl.Int64


def test_xlsx_export_is_one_workbook_with_summary_statement_and_lines_sheets(
    closed_jan_site: Any, tmp_path: Path
) -> None:
    export = export_commissions(closed_jan_site.settings, "2026-01", "xlsx", tmp_path, now=LATER)

    assert export.files == [tmp_path / "commissions-2026-01.xlsx"]
    with zipfile.ZipFile(export.files[0]) as book:
        workbook = book.read("xl/workbook.xml").decode()
        strings = book.read("xl/sharedStrings.xml").decode()
    assert re.findall(r'<sheet name="([^"]+)"', workbook) == ["summary", "statement", "lines"]
    for text in ("period: 2026-01", "status: closed at 2026-03-20T12:00:00Z", "1.235", "19.80"):
        assert text in strings


# bad input -----------------------------------------------------------------------------------


def under_a_file(tmp: Path) -> Path:
    (tmp / "a-file").write_text("not a directory")
    return tmp / "a-file" / "exports"


def a_file(tmp: Path) -> Path:
    (tmp / "a-file").write_text("not a directory")
    return tmp / "a-file"


# tests run as root, so a chmod would not stop the write: a regular file stands in the way instead
@pytest.mark.parametrize("make_out", [under_a_file, a_file], ids=["parent-is-a-file", "out-is-a-file"])
def test_an_export_to_a_directory_that_cannot_be_written_fails_cleanly(
    closed_jan_site: Any, tmp_path: Path, snapshot_tree: Callable, make_out: Callable
) -> None:
    out = make_out(tmp_path)
    before = snapshot_tree(tmp_path)

    with pytest.raises(ExportError, match="cannot write to"):
        export_commissions(closed_jan_site.settings, "2026-01", "csv", out, now=LATER)

    assert snapshot_tree(tmp_path) == before


def test_a_write_that_fails_midway_leaves_no_partial_file(closed_jan_site: Any, tmp_path: Path) -> None:
    (tmp_path / "commissions-2026-01.csv").mkdir()  # the final rename cannot replace a directory

    with pytest.raises(ExportError, match="cannot write export"):
        export_commissions(closed_jan_site.settings, "2026-01", "csv", tmp_path, now=LATER)

    assert [p.name for p in tmp_path.iterdir()] == ["commissions-2026-01.csv"]
    assert not any((tmp_path / "commissions-2026-01.csv").iterdir())


def test_a_parquet_export_failing_on_its_second_file_leaves_neither(
    closed_jan_site: Any, tmp_path: Path
) -> None:
    (tmp_path / "commissions-2026-01.lines.parquet").mkdir()

    with pytest.raises(ExportError):
        export_commissions(closed_jan_site.settings, "2026-01", "parquet", tmp_path, now=LATER)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["commissions-2026-01.lines.parquet"]


@pytest.mark.parametrize(
    ("period", "fmt", "problem"),
    [
        pytest.param("2026-13", "csv", "period must be YYYY-MM", id="bad-month"),
        pytest.param("26-01", "csv", "period must be YYYY-MM", id="short-year"),
        pytest.param("2026-01", "pdf", "format must be one of csv, parquet, xlsx", id="bad-format"),
    ],
)
def test_bad_export_arguments_are_refused(
    closed_jan_site: Any, tmp_path: Path, period: str, fmt: str, problem: str
) -> None:
    with pytest.raises(ExportError, match=re.escape(problem)):
        export_commissions(closed_jan_site.settings, period, fmt, tmp_path / "out", now=LATER)

    assert not (tmp_path / "out").exists()


# Dagster -------------------------------------------------------------------------------------


def run_export_job(site: Any, now: datetime) -> dg.ExecuteInProcessResult:
    defs = build_definitions(AttroResource.from_settings(site.settings, now))
    return defs.resolve_job_def("export_last_closed_period").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )


def test_the_export_job_writes_the_last_closed_periods_files(
    closed_jan_site: Any, copy_site: Callable, tmp_path: Path
) -> None:
    site = copy_site(closed_jan_site)

    result = run_export_job(site, MUCH_LATER)

    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.asset_key == dg.AssetKey(["exports", "last_closed_period"])
    assert event.step_materialization_data.materialization.metadata["period"].value == "2026-01"
    written = sorted(p.name for p in site.settings.exports_dir.iterdir())
    assert written == [
        "commissions-2026-01.csv",
        "commissions-2026-01.lines.parquet",
        "commissions-2026-01.statement.parquet",
        "commissions-2026-01.xlsx",
    ]
    for fmt in ("csv", "parquet", "xlsx"):
        direct = export_commissions(site.settings, "2026-01", fmt, tmp_path / "direct", now=LATER)
        for path in direct.files:
            assert path.read_bytes() == (site.settings.exports_dir / path.name).read_bytes(), path.name


def test_the_export_job_writes_nothing_before_any_month_is_closed(
    base_site: Any, copy_site: Callable
) -> None:
    site = copy_site(base_site)

    result = run_export_job(site, MUCH_LATER)

    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.step_materialization_data.materialization.metadata["period"].value == "none closed yet"
    assert not site.settings.exports_dir.exists() or not any(site.settings.exports_dir.iterdir())


def test_the_export_has_a_monthly_schedule(base_site: Any) -> None:
    defs = build_definitions(AttroResource.from_settings(base_site.settings))

    schedule = defs.resolve_schedule_def("export_last_closed_period_monthly")

    assert schedule.job_name == "export_last_closed_period"
    minute, hour, day_of_month, month, day_of_week = str(schedule.cron_schedule).split()
    assert day_of_month.isdigit() and 1 <= int(day_of_month) <= 28  # once a month, every month
    assert (month, day_of_week) == ("*", "*")
    assert minute.isdigit() and hour.isdigit()
    assert schedule.execution_timezone == "UTC"
    job = defs.resolve_job_def("export_last_closed_period")
    assert job.asset_layer.selected_asset_keys == {dg.AssetKey(["exports", "last_closed_period"])}
