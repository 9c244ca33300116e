"""Finance exports (CSV, Parquet, XLSX): header, totals equal to the warehouse, byte-identical closed
periods, currency exponents, atomic writes; the Dagster export job and its monthly schedule."""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.definitions import build_definitions
from pipelines.exports import FORMATS, VOID_NOTE, ExportError, export_commissions
from pipelines.resources import AttroResource
from tests.support.clock import utc
from tests.support.exports import open_workbook, read_csv_export, sheet_rows
from tests.support.sites import NOW1

LATER = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
MUCH_LATER = datetime(2027, 2, 3, 4, 5, tzinfo=UTC)


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
        "totals jpy: gross 500, net 500, payable 500 (1 affiliate)",
        "totals kwd: gross 1.235, net 1.235, payable 1.235 (1 affiliate)",
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


def test_export_files_get_the_mode_the_users_umask_gives_any_file(
    closed_jan_site: Any, tmp_path: Path
) -> None:
    previous = os.umask(0o027)  # e.g. a finance group may read
    try:
        export = export_commissions(closed_jan_site.settings, "2026-01", "parquet", tmp_path, now=LATER)
    finally:
        os.umask(previous)

    assert {stat.S_IMODE(path.stat().st_mode) for path in export.files} == {0o640}


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
    # display amounts are exact decimals at one scale (a column has one), the exponent says how to show them
    assert lines.filter(pl.col("currency") != "usd").select("currency", "currency_exponent", "amount").sort(
        "currency"
    ).rows() == [
        ("jpy", 0, Decimal("500.000")),
        ("kwd", 3, Decimal("1.235")),
    ]
    assert lines.schema["amount"] == statement.schema["net"] == pl.Decimal(38, 3)
    assert lines["amount_minor"].dtype == pl.Int64
    # times as times (audit: earned_at was text), the same instant the CSV writes
    assert lines.schema["earned_at"] == pl.Datetime("us", "UTC") and lines.schema["payable_on"] == pl.Date
    assert statement.filter(pl.col("affiliate_id") == "jane").select("net_minor", "net").rows() == [
        (1980, Decimal("19.800"))
    ]


def test_xlsx_export_is_one_workbook_with_summary_statement_and_lines_sheets(
    closed_jan_site: Any, tmp_path: Path
) -> None:
    export = export_commissions(closed_jan_site.settings, "2026-01", "xlsx", tmp_path, now=LATER)

    assert export.files == [tmp_path / "commissions-2026-01.xlsx"]
    with zipfile.ZipFile(export.files[0]) as book:
        workbook = book.read("xl/workbook.xml").decode()
        strings = book.read("xl/sharedStrings.xml").decode()
    assert re.findall(r'<sheet name="([^"]+)"', workbook) == ["summary", "statement", "lines"]
    for text in ("period: 2026-01", "status: closed at 2026-03-20T12:00:00Z"):
        assert text in strings
    for amount in ("1.235", "19.80"):  # amounts are numbers, never text
        assert f">{amount}<" not in strings


# names beside ids ------------------------------------------------------------------------------


def names(rows: list[dict[str, str]]) -> set[tuple[str, str, str]]:
    return {(r["affiliate_id"], r["affiliate_name"], r["affiliate_email"]) for r in rows}


DEMO_NAMES = {
    ("jane", "Jane Doe", "jane@example.com"),
    ("lena", "Lena Fischer", "lena@example.com"),
    ("omar", "Omar Haddad", "omar@example.com"),
}


def test_statement_and_lines_name_each_affiliate_beside_its_id(closed_jan_site: Any, tmp_path: Path) -> None:
    export = export_commissions(closed_jan_site.settings, "2026-01", "csv", tmp_path, now=LATER)

    _header, statement, lines = read_csv_export(export.files[0])
    assert list(statement[0])[:4] == list(lines[0])[:4][:2] + ["affiliate_name", "affiliate_email"]
    assert names(statement) == names(lines) == DEMO_NAMES


def rename_jane(site: Any) -> None:
    program = site.root / "program.toml"
    program.write_text(program.read_text().replace('name = "Jane Doe"', 'name = "Jane Smith"'))


def test_a_closed_month_keeps_the_names_it_was_closed_with(
    closed_jan_site: Any, copy_site: Callable, tmp_path: Path
) -> None:
    site = copy_site(closed_jan_site)
    before = export_commissions(site.settings, "2026-01", "xlsx", tmp_path / "a", now=LATER)

    rename_jane(site)
    after = export_commissions(site.settings, "2026-01", "xlsx", tmp_path / "b", now=MUCH_LATER)
    open_month = export_commissions(site.settings, "2026-02", "csv", tmp_path / "c", now=MUCH_LATER)

    assert after.files[0].read_bytes() == before.files[0].read_bytes()
    assert ("jane", "Jane Smith", "jane@example.com") in names(read_csv_export(open_month.files[0])[1])


def test_a_name_a_spreadsheet_would_run_as_a_formula_is_exported_as_text(
    closed_jan_site: Any, copy_site: Callable, tmp_path: Path
) -> None:
    # Audit: affiliate names (an influencer's "@handle", or "=HYPERLINK(...)") went into the CSV as
    # written, and Excel runs a cell starting with = + - @ as a formula.
    site = copy_site(closed_jan_site)
    program = site.root / "program.toml"
    program.write_text(
        program.read_text().replace('name = "Jane Doe"', "name = '=HYPERLINK(\"http://x.example\")'")
    )

    export = export_commissions(site.settings, "2026-02", "csv", tmp_path, now=MUCH_LATER)

    _header, statement, lines = read_csv_export(export.files[0])
    jane = [row["affiliate_name"] for row in [*statement, *lines] if row["affiliate_id"] == "jane"]
    assert jane and set(jane) == {'\'=HYPERLINK("http://x.example")'}
    assert all(not row["amount"].startswith("'") for row in lines)  # -19.80 stays a number


def test_a_month_closed_before_names_were_frozen_is_named_from_the_program_file(
    closed_jan_site: Any, copy_site: Callable, tmp_path: Path
) -> None:
    site = copy_site(closed_jan_site)
    (site.settings.state_dir / "closed_periods" / "2026-01" / "affiliates.parquet").unlink()
    rename_jane(site)

    export = export_commissions(site.settings, "2026-01", "csv", tmp_path, now=LATER)

    _header, statement, _lines = read_csv_export(export.files[0])
    assert ("jane", "Jane Smith", "jane@example.com") in names(statement)


# void lines reconcile -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def void_in_march(base_site: Any, clone_site: Callable, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The base site with jane's February renewal refunded in full on March 1, before it became payable
    (March 12): its commission (February) and its reversal (March) are void, while her March renewal
    earns 19.80. The demo's October statement has the same shape."""
    site = clone_site(base_site, tmp_path_factory.mktemp("void-in-march") / "site")
    refund = site.sim.refund(site.flows["renewal_feb"], utc("2026-03-01"))
    site.land_events(refund.events, utc("2026-03-01"))
    site.run(NOW1)
    return site


def jane(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["affiliate_id"] == "jane"]


def test_a_void_line_is_marked_and_left_out_of_the_statement_beside_it(
    void_in_march: Any, tmp_path: Path
) -> None:
    export = export_commissions(void_in_march.settings, "2026-03", "csv", tmp_path, now=LATER)

    _header, statement, lines = read_csv_export(export.files[0])
    assert [(r["kind"], r["amount"], r["status"], r["in_statement"], r["note"]) for r in jane(lines)] == [
        ("reversal", "-19.80", "void", "false", VOID_NOTE),
        ("commission", "19.80", "pending", "true", ""),
    ]
    (row,) = jane(statement)
    assert (row["net"], row["reversals"], row["void"], row["void_lines"]) == ("19.80", "0.00", "-19.80", "1")


def rows_of(export: Any, fmt: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(statement rows, line rows) of an export in any format, as Python values."""
    if fmt == "csv":
        _header, statement, lines = read_csv_export(export.files[0])
        return statement, [{**r, "in_statement": r["in_statement"] == "true"} for r in lines]
    if fmt == "parquet":
        return pl.read_parquet(export.files[0]).to_dicts(), pl.read_parquet(export.files[1]).to_dicts()
    book = open_workbook(export.files[0])
    values = [
        [{k: c.value for k, c in row.items()} for row in sheet_rows(book, s)] for s in ("statement", "lines")
    ]
    return values[0], values[1]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("period", ["2026-02", "2026-03"])
def test_lines_in_the_statement_sum_to_its_net_and_void_lines_to_its_void(
    void_in_march: Any, tmp_path: Path, fmt: str, period: str
) -> None:
    export = export_commissions(void_in_march.settings, period, fmt, tmp_path, now=LATER)

    statement, lines = rows_of(export, fmt)
    assert any(not line["in_statement"] for line in lines)  # the case under test: void lines exist
    rows = {(row["affiliate_id"], row["currency"]) for row in statement}
    assert {(line["affiliate_id"], line["currency"]) for line in lines} <= rows  # void-only ones too
    for row in statement:
        key = (row["affiliate_id"], row["currency"])
        mine = [line for line in lines if (line["affiliate_id"], line["currency"]) == key]
        counted = [int(line["amount_minor"]) for line in mine if line["in_statement"]]
        void = [int(line["amount_minor"]) for line in mine if not line["in_statement"]]
        assert sum(counted) == int(row["net_minor"])
        assert (sum(void), len(void)) == (int(row["void_minor"]), int(row["void_lines"]))
    assert all(line["status"] == "void" for line in lines if not line["in_statement"])


# XLSX for an accountant -----------------------------------------------------------------------


DECIMALS = {"jpy": 0, "kwd": 3}  # usd and eur: 2


def money_format(currency: str) -> str:
    return {0: "#,##0", 2: "#,##0.00", 3: "#,##0.000"}[DECIMALS.get(currency, 2)]


def amount_cells(lines: list[dict[str, Any]], statement_row: dict[str, Any]) -> list[dict[str, Any]]:
    """The line rows of one statement row's affiliate and currency."""
    key = (statement_row["affiliate_id"].value, statement_row["currency"].value)
    return [line for line in lines if (line["affiliate_id"].value, line["currency"].value) == key]


def cell_sum(lines: list[dict[str, Any]], decimals: int, counted: bool, kind: str | None = None) -> float:
    """What a SUMIFS over the amount cells gives, rounded to the currency's decimals."""
    cells = [
        line["amount"].value
        for line in lines
        if line["in_statement"].value is counted and kind in (None, line["kind"].value)
    ]
    return round(sum(cells), decimals)


@pytest.mark.parametrize(
    ("site_name", "period"), [("closed_jan_site", "2026-01"), ("void_in_march", "2026-03")]
)
def test_xlsx_amounts_are_numbers_in_the_currencys_decimals_that_add_up_to_the_statement(
    request: pytest.FixtureRequest, tmp_path: Path, site_name: str, period: str
) -> None:
    site = request.getfixturevalue(site_name)
    export = export_commissions(site.settings, period, "xlsx", tmp_path, now=LATER)

    book = open_workbook(export.files[0])
    statement, lines = sheet_rows(book, "statement"), sheet_rows(book, "lines")
    assert statement and lines
    for line in lines:
        assert isinstance(line["amount"].value, int | float)
        assert line["amount"].number_format == money_format(line["currency"].value)
    for row in statement:
        currency = row["currency"].value
        decimals = DECIMALS.get(currency, 2)
        for name in ("gross", "reversals", "net", "payable", "void"):
            assert isinstance(row[name].value, int | float), name
            assert row[name].number_format == money_format(currency), name
            assert round(row[name].value * 10**decimals) == row[f"{name}_minor"].value
            assert row[f"{name}_minor"].number_format == "0"  # cents are a count: never "1,980"
        mine = amount_cells(lines, row)
        assert cell_sum(mine, decimals, counted=True) == round(row["net"].value, decimals)
        assert cell_sum(mine, decimals, counted=True, kind="commission") == round(
            row["gross"].value, decimals
        )
        assert cell_sum(mine, decimals, counted=True, kind="reversal") == round(
            row["reversals"].value, decimals
        )
        assert cell_sum(mine, decimals, counted=False) == round(row["void"].value, decimals)


def test_xlsx_sheets_have_a_frozen_header_widths_dates_and_grey_void_lines(
    void_in_march: Any, tmp_path: Path
) -> None:
    export = export_commissions(void_in_march.settings, "2026-03", "xlsx", tmp_path, now=LATER)

    book = open_workbook(export.files[0])
    for name in ("statement", "lines"):
        sheet = book[name]
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref is not None
        header = [cell.value for cell in sheet[1]]
        for column, title in zip(sheet.iter_cols(max_row=1), header, strict=True):
            width = sheet.column_dimensions[column[0].column_letter].width
            cells = [c for c in sheet[column[0].column_letter] if c.value is not None]
            longest = max(10 if c.is_date else len(str(c.value)) for c in cells)
            assert min(longest, 60) <= width <= 63, title
    lines = sheet_rows(book, "lines")
    assert all(
        line["payable_on"].is_date and line["payable_on"].number_format == "yyyy-mm-dd" for line in lines
    )
    # earned_at a time a spreadsheet sorts by (UTC), the instant the CSV gives as text
    as_text = [
        row["earned_at"]
        for row in jane(
            read_csv_export(
                export_commissions(
                    void_in_march.settings, "2026-03", "csv", tmp_path / "csv", now=LATER
                ).files[0]
            )[2]
        )
    ]
    assert all(line["earned_at"].number_format == "yyyy-mm-dd hh:mm:ss" for line in lines)
    assert [
        f"{line['earned_at'].value:%Y-%m-%dT%H:%M:%SZ}"
        for line in lines
        if line["affiliate_id"].value == "jane"
    ] == as_text
    void = [line for line in lines if line["status"].value == "void"]
    assert void and all(line["amount"].font.i and not line["in_statement"].value for line in void)
    assert not any(line["amount"].font.i for line in lines if line["status"].value != "void")
    summary = [row[0].value for row in book["summary"].iter_rows()]
    assert any(text and "counts in no statement" in text for text in summary)


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
