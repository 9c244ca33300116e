"""Whole runs (`run_pipeline`): marts in the published warehouse, rebuilds, incremental runs, readers."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.program import ProgramError, load_program
from core.settings import Settings
from pipelines import steps
from pipelines.lake import Lake
from pipelines.lib.warehouse import next_path, pipeline_lock
from pipelines.run import root_cause, run_pipeline
from pipelines.sources import landing as landing_source
from pipelines.sources.landing.helpers import iter_new
from tests.support.paths import REPO

# DESIGN §3: the columns each mart must have (more are allowed).
DESIGN_COLUMNS = {
    "marts.payments": [
        "payment_id",
        "occurred_at",
        "livemode",
        "customer_id",
        "customer_email",
        "subscription_id",
        "invoice_id",
        "payment_intent_id",
        "checkout_session_id",
        "billing_reason",
        "amount_minor",
        "currency",
        "click_id",
        "click_id_source",
        "source_event_ids",
    ],
    "marts.clicks": [
        "click_id",
        "clicked_at",
        "link_code",
        "affiliate_id",
        "offer_id",
        "ip_hash",
        "user_agent",
        "referer",
        "landing_url",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "is_bot",
    ],
    "marts.conversions": [
        "conversion_id",
        "payment_id",
        "click_id",
        "affiliate_id",
        "offer_id",
        "conversion_type",
        "payment_number",
        "occurred_at",
        "amount_minor",
        "currency",
        "livemode",
        "commissionable",
        "not_commissionable_reason",
    ],
    "marts.payment_adjustments": [
        "payment_id",
        "occurred_at",
        "kind",
        "amount_minor",
        "currency",
        "source_event_id",
    ],
    "marts.unattributed_payments": ["payment_id", "reason"],
    "marts.commission_lines": [
        "line_id",
        "conversion_id",
        "payment_id",
        "affiliate_id",
        "offer_id",
        "kind",
        "rule",
        "base_amount_minor",
        "amount_minor",
        "currency",
        "earned_at",
        "payable_on",
        "period",
        "status",
    ],
    "marts.affiliate_statements": [
        "period",
        "affiliate_id",
        "currency",
        "gross_minor",
        "reversals_minor",
        "net_minor",
        "line_count",
        "closed_at",
    ],
}


def query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def copy_site(settings: Settings, root: Path) -> Settings:
    """The same data dir and program file somewhere else (landing, build and warehouse)."""
    shutil.copytree(settings.data_dir, root / "data")
    shutil.copyfile(settings.program_path, root / "program.toml")
    return Settings(data_dir=root / "data", program=root / "program.toml")


def test_the_published_warehouse_has_the_marts_with_the_design_columns(full_run, kit) -> None:
    columns = kit.columns(full_run.settings.warehouse_path)
    for table, expected in DESIGN_COLUMNS.items():
        assert table in columns, f"{table} is not published"
        missing = [c for c in expected if c not in columns[table]]
        assert not missing, f"{table} lacks {missing}"
    for table in ("raw.stripe_events", "raw.clicks", "program.affiliates", "program.links", "program.offers"):
        assert table in columns
    money = query(
        full_run.settings.warehouse_path,
        "select table_name || '.' || column_name, data_type from information_schema.columns"
        " where table_schema = 'marts' and column_name like '%\\_minor' escape '\\'",
    )
    assert money and all(dtype == "BIGINT" for _, dtype in money), money


# Every table an analyst is told about (README, DESIGN §3, what `attro run` prints).
NAMED_TABLES = {
    "raw.stripe_events",
    "raw.clicks",
    "raw.landing_rejects",
    "staging.stripe_objects",
    "staging.rejected_events",
    "program.affiliates",
    "program.links",
    "program.offers",
    "program.offer_tiers",
    *DESIGN_COLUMNS,
    "marts.rejected_events",
}


def readme_tables() -> set[str]:
    """`schema.table` names the README mentions (not file names such as program.toml)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    names = set(re.findall(r"\b(?:raw|staging|program|marts)\.[a-z_]+\b", text))
    return {name for name in names if not name.endswith((".toml", ".py"))} - README_MACROS


README_MACROS = {"marts.to_major", "marts.currency_exponent"}


def test_the_readme_analyst_queries_run_in_the_duckdb_command_and_show_each_currency_s_decimals(
    full_run,
) -> None:
    # Audit: the README's first query divided by 100.0: a jpy sale of 50001 showed as 500.01, a kwd
    # one of 12.345 as 123.45, and the warehouse offered no way to get it right.
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```sql\n(.*?)```", text, re.S) if "revenue and commission" in b)
    statements = [s.strip() for s in block.split(";") if s.strip()]
    command = [
        str(Path(sys.executable).with_name("duckdb")),
        "-readonly",
        str(full_run.settings.warehouse_path),
    ]

    for statement in statements:
        done = subprocess.run([*command, "-c", statement], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "Error" not in done.stderr, (statement, done.stderr)
    shown = subprocess.run(
        [
            *command,
            "-csv",
            "-noheader",
            "-c",
            "select marts.to_major(50001, 'jpy'), marts.to_major(12345, 'KWD'),"
            " marts.to_major(-1999, 'usd'), marts.currency_exponent('krw'), marts.to_major(null, 'eur'),"
            " marts.to_major(100, null)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert shown == "50001.000,12.345,-19.990,0,NULL,NULL"
    # review: to_major called marts.currency_exponent, looked for in the caller's catalog
    with duckdb.connect() as con:
        con.execute(f"attach '{full_run.settings.warehouse_path}' as w (read_only)")
        assert con.execute("select w.marts.to_major(12345, 'kwd')").fetchone() == (Decimal("12.345"),)
    assert {
        name
        for (name,) in query(
            full_run.settings.warehouse_path,
            "select schema_name || '.' || function_name from duckdb_functions() where function_type = 'macro'"
            " and schema_name = 'marts'",
        )
    } == README_MACROS


def test_a_first_run_over_an_empty_landing_zone_publishes_every_named_table_empty(kit) -> None:
    settings = kit.settings()

    report = kit.run(settings)

    columns = kit.columns(settings.warehouse_path)
    in_report = {path.replace("/", ".") for path in report if path != "warehouse/snapshot"}
    for table in sorted(NAMED_TABLES | readme_tables() | in_report):
        assert table in columns, f"{table} is named but not published by a first run"
        if not table.startswith("program."):
            assert query(settings.warehouse_path, f"select count(*) from {table}") == [(0,)], table
    assert DESIGN_COLUMNS.keys() <= in_report


def test_a_run_on_simulated_traffic_counts_each_payment_and_conversion_once(full_run, scenario) -> None:
    tables = full_run.tables
    report = full_run.report
    events, clicks = report["raw/stripe_events"], report["raw/clicks"]
    assert (events["new_events"], events["rejected_lines"]) == (scenario.event_count, scenario.rejected_lines)
    assert (clicks["new_clicks"], clicks["rejected_lines"]) == (scenario.click_count, 0)
    assert len(tables["raw.stripe_events"]) == scenario.event_count
    assert len(tables["raw.landing_rejects"]) == scenario.rejected_lines

    path = full_run.settings.warehouse_path
    payments = query(path, "select payment_id, billing_reason, source_event_ids from marts.payments")
    assert len(payments) == scenario.payment_count
    assert len({p[0] for p in payments}) == len(payments)
    assert Counter(p[1] for p in payments) == {
        "subscription_create": 1,
        "subscription_cycle": 2,
        "one_time": 2,
    }
    # The redelivered renewal event backs exactly one payment, once.
    backing = [p for p in payments if scenario.duplicated_event_id in p[2]]
    assert len(backing) == 1 and backing[0][2].count(scenario.duplicated_event_id) == 1

    conversions = query(
        path, "select conversion_id, payment_id, affiliate_id, conversion_type from marts.conversions"
    )
    assert len(conversions) == scenario.conversion_count
    assert len({c[0] for c in conversions}) == len(conversions)
    assert Counter((c[2], c[3]) for c in conversions) == {
        ("jane", "initial"): 1,
        ("jane", "renewal"): 2,
        ("lena", "initial"): 1,
    }
    unattributed = query(path, "select payment_id, reason from marts.unattributed_payments")
    assert unattributed == [(scenario.no_click_charge_id, "no_click_id")]
    # Every payment is either some affiliate's conversion or explained as unattributed.
    attributed = {c[1] for c in conversions}
    assert attributed.isdisjoint(p for p, _ in unattributed)
    assert attributed | {p for p, _ in unattributed} == {p[0] for p in payments}

    lines = query(path, "select affiliate_id, kind, amount_minor, currency from marts.commission_lines")
    jane = [line for line in lines if line[0] == "jane"]
    assert sorted(jane) == [("jane", "commission", 1980, "usd")] * 3  # 20% of 99.00, three payments
    assert ("lena", "commission", 500, "usd") in lines
    statements = query(path, "select affiliate_id, sum(net_minor) from marts.affiliate_statements group by 1")
    assert dict(statements)["jane"] == 3 * 1980


def test_a_refund_is_published_as_a_payment_adjustment_and_reverses_commission(full_run, scenario) -> None:
    path = full_run.settings.warehouse_path
    lines = query(path, "select affiliate_id, kind, amount_minor from marts.commission_lines")
    assert ("lena", "reversal", -200) in lines  # 1000 of 2500 refunded: 40% of the flat 500
    adjustments = query(path, "select payment_id, kind, amount_minor from marts.payment_adjustments")
    assert (scenario.one_time_payment_id, "refund", -1000) in adjustments


def test_incremental_runs_over_a_growing_landing_zone_equal_one_full_run(full_run, scenario, kit) -> None:
    settings = kit.settings("incremental")
    reports = []
    for share in (0.35, 0.7, 1.0):  # every cut falls mid-line: torn lines wait for the next run
        scenario.write(settings, share)
        torn = [p for p in settings.landing_dir.rglob("*.ndjson") if not p.read_bytes().endswith(b"\n")]
        assert bool(torn) == (share < 1.0)
        reports.append(kit.run(settings))

    assert all(r["raw/stripe_events"]["new_events"] > 0 for r in reports)
    assert sum(r["raw/clicks"]["new_clicks"] for r in reports) == scenario.click_count
    assert sum(r["raw/stripe_events"]["rejected_lines"] for r in reports) == scenario.rejected_lines
    # each event is decoded once, by the run that loaded it: no run decodes an earlier run's events again
    staged = [r["staging/stripe_objects"]["new_rows"] for r in reports]
    assert all(n > 0 for n in staged)
    assert sum(staged) == full_run.report["staging/stripe_objects"]["new_rows"] > 0
    # each stage's total (the Dagster asset's "rows") counts what all runs added, as one run's does
    for stage, added in (("raw/stripe_events", "new_events"), ("raw/clicks", "new_clicks")):
        assert [r[stage]["rows"] for r in reports] == list(accumulate(r[stage][added] for r in reports))
        assert reports[-1][stage]["rows"] == full_run.report[stage]["rows"]
    assert [r["staging/stripe_objects"]["rows"] for r in reports] == list(accumulate(staged))
    assert kit.tables(settings.warehouse_path) == full_run.tables


@pytest.mark.parametrize("deleted", ["lake, build folder and warehouse", "build folder and warehouse"])
def test_a_warehouse_rebuilt_from_the_landing_zone_is_identical(
    full_run, scenario, kit, deleted: str
) -> None:
    settings = copy_site(full_run.settings, kit.tmp_path)
    settings.warehouse_path.unlink()
    shutil.rmtree(settings.build_dir)  # the dlt working folder and the last run's record with it
    if deleted.startswith("lake"):
        shutil.rmtree(settings.lake_dir)

    report = kit.run(settings)

    reloaded = scenario.event_count if deleted.startswith("lake") else 0
    assert report["raw/stripe_events"]["new_events"] == reloaded
    assert kit.tables(settings.warehouse_path) == full_run.tables


def test_the_rules_read_the_staged_tables_never_the_raw_payloads(full_run, kit) -> None:
    settings = copy_site(full_run.settings, kit.tmp_path)
    raw_events = Lake(settings.lake_dir).raw("stripe_events").paths()
    assert raw_events
    for path in raw_events:  # every payload gone: only staging and raw.clicks are left to the rules
        path.unlink()

    steps.build_and_write_marts(settings, load_program(settings.program_path), kit.now, ["a-run"])

    rebuilt = kit.tables(next_path(settings), schemas=("marts",))
    published = {name: rows for name, rows in full_run.tables.items() if name.startswith("marts.")}
    assert rebuilt.keys() == published.keys() - {f"marts.{steps.CLICKS_VIEW}"}
    assert rebuilt == {name: published[name] for name in rebuilt}
    assert rebuilt["marts.payments"] and rebuilt["marts.commission_lines"]


def test_a_run_adds_lake_files_and_publishes_views_over_them_never_copying_history(full_run, kit) -> None:
    settings = copy_site(full_run.settings, kit.tmp_path)

    def lake_files() -> dict[Path, tuple[int, int, int]]:
        stats = {path: path.stat() for path in settings.lake_dir.rglob("*.parquet")}
        return {path: (st.st_ino, st.st_mtime_ns, st.st_size) for path, st in stats.items()}

    before = lake_files()
    new_charge = kit.sim(seed=98).bare_charge(kit.at, 555).events[0]
    kit.landing(settings).events([new_charge], name="host-6-0000ffff", day="2026-05-19")
    assert kit.run(settings, force=False)["raw/stripe_events"]["new_events"] == 1

    after = lake_files()
    assert {path: after.get(path) for path in before} == before  # history: not rewritten, not moved
    assert len(after) > len(before)  # what is new: new files
    warehouse = settings.warehouse_path
    views = {
        name for (name,) in query(warehouse, "select schema_name || '.' || view_name from duckdb_views()")
    }
    # a table of raw or staging is only ever an empty stand-in for one with no lake file yet
    copied = query(
        warehouse,
        "select schema_name || '.' || table_name from duckdb_tables()"
        " where schema_name in ('raw', 'staging') and estimated_size > 0",
    )
    in_raw = query(warehouse, f"select count(*) from raw.stripe_events where event_id = '{new_charge['id']}'")
    assert {"raw.stripe_events", "raw.clicks", "staging.stripe_objects", "marts.clicks"} <= views
    assert copied == []
    assert in_raw == [(1,)]


def test_readers_keep_their_snapshot_while_a_run_publishes_a_new_one(full_run, kit) -> None:
    settings = copy_site(full_run.settings, kit.tmp_path)
    warehouse = settings.warehouse_path
    reader = duckdb.connect(str(warehouse), read_only=True)
    count_sql = "select count(*), sum(amount_minor) from marts.payments"
    before = reader.execute(count_sql).fetchall()
    payments_before = sorted(reader.execute("select * from marts.payments").fetchall(), key=repr)
    new_charge = kit.sim(seed=99).bare_charge(kit.at, 777).events[0]
    kit.landing(settings).events([new_charge], name="host-5-0000eeee", day="2026-05-19")

    seen: list[Any] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def keep_reading() -> None:
        cursor = reader.cursor()
        try:
            while not stop.is_set() or not seen:
                seen.append(cursor.execute(count_sql).fetchall())
        except BaseException as exc:  # noqa: BLE001 - any reader error fails the test
            errors.append(exc)
        finally:
            cursor.close()

    thread = threading.Thread(target=keep_reading)
    thread.start()
    try:
        report = run_pipeline(settings, now=kit.now)
    finally:
        stop.set()
        thread.join(timeout=30)

    assert report["raw/stripe_events"]["new_events"] == 1
    assert not errors
    assert seen and all(result == before for result in seen)
    # The open connection still reads its old snapshot, whole and consistent.
    assert reader.execute(count_sql).fetchall() == before
    assert sorted(reader.execute("select * from marts.payments").fetchall(), key=repr) == payments_before
    reader.close()
    # A new reader sees the new data. (ATTACH from a fresh in-memory database: duckdb.connect() on
    # the same path would reuse this process's cached instance of the old file.)
    fresh = duckdb.connect()
    fresh.execute(f"attach '{warehouse}' as w (read_only)")
    after = fresh.execute(count_sql.replace("marts.", "w.marts.")).fetchall()
    fresh.close()
    assert after == [(before[0][0] + 1, before[0][1] + 777)]
    assert not list(warehouse.parent.glob(f".{warehouse.name}.*")), "a temp copy was left behind"


def test_a_bad_program_file_stops_the_run_naming_file_link_and_affiliate(kit) -> None:
    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=8).bare_charge(kit.at, 100).events)
    with settings.program_path.open("a", encoding="utf-8") as fh:
        fh.write('\n[[links]]\ncode = "zoe-pro"\naffiliate = "zoe"\noffer = "pro-20"\n')
        fh.write('destination = "https://yourapp.example/pricing"\n')
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    settings.warehouse_path.write_bytes(b"the last good snapshot")

    with pytest.raises(ProgramError) as raised:
        run_pipeline(settings, now=kit.now)

    message = str(raised.value)
    assert str(settings.program_path) in message
    assert "zoe-pro" in message and "'zoe'" in message and "affiliate" in message
    assert settings.warehouse_path.read_bytes() == b"the last good snapshot"
    assert not settings.lake_dir.exists()


def test_the_duckdb_command_the_project_installs_opens_the_published_warehouse(full_run) -> None:
    duckdb_cli = Path(sys.executable).parent / "duckdb"  # from the duckdb-cli dependency
    sql = "select count(*) from marts.payments; select count(*) from raw.stripe_events;"
    result = subprocess.run(
        [str(duckdb_cli), "-readonly", "-csv", "-noheader", str(full_run.settings.warehouse_path), "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    payments = query(full_run.settings.warehouse_path, "select count(*) from marts.payments")[0][0]
    events = query(full_run.settings.warehouse_path, "select count(*) from raw.stripe_events")[0][0]
    assert result.stdout.split() == [str(payments), str(events)]


def test_a_program_edit_made_while_a_run_waits_for_the_lock_is_the_one_it_builds(full_run, kit) -> None:
    # Audit: the run read the file before waiting and fingerprinted it after: it built the old file,
    # recorded the new one, and every later run said "nothing new" without the edit.
    settings = copy_site(full_run.settings, kit.tmp_path)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with pipeline_lock(settings):
            held.set()
            release.wait(20)

    def edit_while_waiting(_message: str) -> None:
        with settings.program_path.open("a", encoding="utf-8") as fh:
            fh.write('\n[[affiliates]]\nid = "xia"\nname = "Xia"\nemail = "xia@example.com"\n')
        release.set()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    run_pipeline(settings, kit.now, force=True, on_wait=edit_while_waiting)
    holder.join(20)
    again = run_pipeline(settings, kit.now)

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        ids = [row[0] for row in con.execute("select affiliate_id from program.affiliates").fetchall()]
    assert "xia" in ids
    assert again == {"skipped": True}


def test_a_run_that_waited_for_the_lock_in_vain_says_so_in_one_line(
    full_run, kit, monkeypatch, capsys
) -> None:
    # Audit: after 600 s of waiting, `attro run` and `attro close-period` ended in a traceback.
    from attro.cli import main
    from pipelines import run as run_module

    settings = copy_site(full_run.settings, kit.tmp_path)
    monkeypatch.setenv("ATTRO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ATTRO_PROGRAM", str(settings.program_path))
    monkeypatch.setattr(run_module, "pipeline_lock", functools.partial(pipeline_lock, wait_seconds=0.3))
    with pipeline_lock(settings):
        codes = [main(["run", "--force"]), main(["close-period", "2026-01"])]

    err = capsys.readouterr().err
    assert codes == [1, 1]
    assert err.count("still after waiting; try again once it has ended") == 2
    assert err.count("waiting for it, 0.3 s at most") == 2  # close-period says it waits, as run does
    assert "Traceback" not in err


@pytest.mark.parametrize("blocked", [".run.lock", "next.json.tmp"])
def test_a_build_dir_that_cannot_be_written_stops_the_run_in_one_line(
    full_run, kit, monkeypatch, capsys, blocked
) -> None:
    # Ops audit: a read-only or full data/build stopped `attro run` and `close-period` with a traceback
    # (the run lock and the note of the run's start were taken outside every step). A directory where
    # the file goes fails as a read-only or full disk does, as root too.
    from attro.cli import main

    settings = copy_site(full_run.settings, kit.tmp_path)
    monkeypatch.setenv("ATTRO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ATTRO_PROGRAM", str(settings.program_path))
    (settings.build_dir / blocked).unlink(missing_ok=True)
    (settings.build_dir / blocked).mkdir(parents=True)

    codes = [main(["run", "--force"]), main(["close-period", "2026-01"])]

    err = capsys.readouterr().err
    assert codes == [1, 2]  # close-period: 2 for a run that failed, as before
    step = "starting the run" if blocked == ".run.lock" else "raw (loading the landing zone) failed"
    assert err.count(step) == 2, err
    assert err.count(f"Is a directory: {settings.build_dir / blocked}") == 2, err
    assert "Traceback" not in err


def test_a_click_id_two_processes_landed_is_kept_alike_by_a_run_and_by_a_rebuild(kit) -> None:
    # Audit: a run kept whichever copy it loaded first: when the later-received copy was loaded before
    # the other was written (an import's records are stamped when its request starts), the run paid
    # one affiliate and a rebuild from the landing zone the other.
    settings = kit.settings()
    landing = kit.landing(settings)
    click_id = "01KJ" + "2" * 26
    clicked = kit.at - timedelta(days=3)
    jane = kit.click_line(settings, click_id, "jane-pro", clicked - timedelta(days=1), kit.at)
    omar = kit.click_line(settings, click_id, "omar-all", clicked, kit.at + timedelta(seconds=1))
    landing.append("clicks", omar, name="host-2-0000bbbb")
    kit.run(settings)
    landing.append("clicks", jane, name="host-1-0000aaaa")  # received first, written after a run
    kit.run(settings)
    rebuilt = kit.settings("rebuilt")
    shutil.copytree(settings.landing_dir, rebuilt.landing_dir)
    shutil.copy(settings.program_path, rebuilt.program_path)
    kit.run(rebuilt)

    def published(site: Settings, sql: str) -> list[tuple]:
        with duckdb.connect(str(site.warehouse_path), read_only=True) as con:
            return con.execute(sql).fetchall()

    for site in (settings, rebuilt):
        assert published(site, "select click_id, link_code from marts.clicks") == [(click_id, "jane-pro")]
        assert published(site, "select affiliate_id from marts.conversions") == []  # no sale: the click only
    # raw holds what was loaded: the run loaded both copies, and says which one the marts leave out
    assert published(settings, "select count(*) from raw.clicks") == [(2,)]
    assert published(settings, "select link_code from raw.clicks_landed_again") == [("omar-all",)]
    assert published(rebuilt, "select count(*) from raw.clicks_landed_again") == [(0,)]


def _shown(site: Settings, event_id: str) -> list[tuple]:
    """The published raw.stripe_events rows of an event."""
    with duckdb.connect(str(site.warehouse_path), read_only=True) as con:
        rows = con.execute(
            "select received_at, source, payload from raw.stripe_events where event_id = ? order by all",
            [event_id],
        ).fetchall()
    return rows


def _garbage(kit, event: dict, at) -> str:  # noqa: ANN001 - the kit fixture, a datetime
    """A landing line naming `event`'s id over a payload that is not that event (corrupt, forged)."""
    line = json.loads(kit.event_line(event, at))
    return json.dumps({**line, "payload": '{"id": "evt_other"'}) + "\n"


def _rebuilt(kit, settings: Settings, name: str = "rebuilt") -> Settings:  # noqa: ANN001
    rebuilt = kit.settings(name)
    shutil.copytree(settings.landing_dir, rebuilt.landing_dir)
    shutil.copy(settings.program_path, rebuilt.program_path)
    kit.run(rebuilt)
    return rebuilt


@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["one chunk", "a chunk per line"])
def test_an_event_two_processes_landed_is_kept_alike_by_a_run_and_by_a_rebuild(
    kit, monkeypatch, chunk_bytes
) -> None:
    # Left for later in stop 40 (three audits): a run kept the copy of a re-delivered event it loaded
    # first, a rebuild the one it read first in landing order and 24 MB chunks: raw.stripe_events
    # differed in received_at (995 of 3,955 events under load), and in source and staging when the
    # copies came by webhook and by the API.
    settings = kit.settings()
    landing = kit.landing(settings)
    sale = kit.sim(seed=21).one_time_checkout(kit.at, 4900)
    paid = sale.events[0]
    early, late = kit.at, kit.at + timedelta(minutes=5)
    landing.events(sale.events, late, name="host-1-0000aaaa")  # sorts first, landed a run earlier
    kit.run(settings)
    landing.events([paid], early, name="host-2-0000bbbb")  # received first, written after that run
    kit.run(settings)
    if chunk_bytes:  # the rebuild reads the later copy a chunk before the earlier one
        monkeypatch.setattr(landing_source, "iter_new", functools.partial(iter_new, max_bytes=chunk_bytes))
    rebuilt = _rebuilt(kit, settings)

    def published(site: Settings, sql: str) -> list[tuple]:
        with duckdb.connect(str(site.warehouse_path), read_only=True) as con:
            return con.execute(sql).fetchall()

    shown = "select received_at from raw.stripe_events where event_id = '" + paid["id"] + "'"
    for site in (settings, rebuilt):
        assert published(site, shown) == [(early,)]
        assert published(site, "select count(*) - count(distinct event_id) from raw.stripe_events") == [(0,)]
        assert published(site, "select count(*), sum(amount_minor) from marts.payments") == [(1, 4900)]
    # the run loaded both copies and says which one the view leaves out
    assert published(settings, "select event_id, received_at from raw.stripe_events_landed_again") == [
        (paid["id"], late)
    ]
    staged = "select received_at from staging.stripe_objects where event_id = '" + paid["id"] + "'"
    assert published(settings, staged) == published(rebuilt, staged) == [(early,)]  # staging holds both


@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["one chunk", "a chunk per line"])
def test_a_corrupt_copy_landed_first_does_not_hide_the_earliest_real_copy(
    kit, monkeypatch, chunk_bytes
) -> None:
    # Review: the garbage copy's time counted as the earliest held, so the run dropped a real copy
    # landed before the one it held, which a rebuild (never loading the garbage beside it) kept.
    settings = kit.settings()
    landing = kit.landing(settings)
    sale = kit.sim(seed=32).one_time_checkout(kit.at, 4900)
    paid = sale.events[0]
    landing.append("stripe_events", _garbage(kit, paid, kit.at), name="host-0-00000000")
    kit.run(settings)
    landing.events(sale.events, kit.at + timedelta(minutes=10), name="host-1-0000aaaa")
    kit.run(settings)
    landing.events([paid], kit.at + timedelta(minutes=5), name="host-2-0000bbbb")
    kit.run(settings)
    if chunk_bytes:
        monkeypatch.setattr(landing_source, "iter_new", functools.partial(iter_new, max_bytes=chunk_bytes))

    rebuilt = _rebuilt(kit, settings)

    assert [at for at, _source, _payload in _shown(settings, paid["id"])] == [kit.at + timedelta(minutes=5)]
    assert _shown(settings, paid["id"]) == _shown(rebuilt, paid["id"])


def test_a_copy_damaged_mid_payload_read_a_chunk_before_the_real_one_does_not_cost_it(
    kit, monkeypatch
) -> None:
    # Review: a line damaged inside its payload still holds its id and ends with "}", which is all the
    # loader's search looks for: read a chunk before the real copy (any backlog over 24 MB), it took
    # the id and the real copy was dropped for good (a bare charge: no payment).
    settings = kit.settings()
    landing = kit.landing(settings)
    charge = kit.sim(seed=36).bare_charge(kit.at, 1200).events[0]
    line = json.loads(kit.event_line(charge, kit.at))
    at = line["payload"].index('"object"')
    damaged = {**line, "payload": line["payload"][:at] + "'" + line["payload"][at + 1 :]}
    landing.append("stripe_events", json.dumps(damaged) + "\n", name="host-0-00000000")
    landing.events([charge], kit.at + timedelta(minutes=5), name="host-1-0000aaaa")
    monkeypatch.setattr(landing_source, "iter_new", functools.partial(iter_new, max_bytes=1))

    kit.run(settings)

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select count(*), sum(amount_minor) from marts.payments").fetchall() == [(1, 1200)]
        shown = con.execute("select received_at from raw.stripe_events").fetchall()
    assert shown == [(kit.at + timedelta(minutes=5),)]  # the damaged copy, quarantined, is left out


def test_one_line_landed_twice_at_the_same_time_shows_once_whatever_the_chunks(kit, monkeypatch) -> None:
    # Review: a copy parsing as its event loaded beside the one this run held, even a byte-identical
    # one (a landing file restored under another name), and the view, which tells copies apart by
    # their landing time, showed the event twice.
    settings = kit.settings()
    landing = kit.landing(settings)
    charge = kit.sim(seed=37).bare_charge(kit.at, 1200).events[0]
    landing.events([charge], kit.at, name="host-1-0000aaaa")
    landing.events([charge], kit.at, name="host-2-0000bbbb")
    monkeypatch.setattr(landing_source, "iter_new", functools.partial(iter_new, max_bytes=1))

    kit.run(settings)

    assert [at for at, _source, _payload in _shown(settings, charge["id"])] == [kit.at]


def test_a_corrupt_copy_a_crash_left_unstaged_does_not_cost_the_real_event(kit) -> None:
    # Review: a run killed between loading and staging left the corrupt copy unquarantined, so the real
    # copy landed next counted as loaded already and was never read again (a bare charge: no payment).
    from pipelines.lib.loading import load_landing

    settings = kit.settings()
    landing = kit.landing(settings)
    charge = kit.sim(seed=35).bare_charge(kit.at, 1200).events[0]
    landing.append("stripe_events", _garbage(kit, charge, kit.at), name="host-0-00000000")
    load_landing(settings)  # the run died here, before staging
    landing.events([charge], kit.at + timedelta(minutes=5), name="host-1-0000aaaa")

    report = kit.run(settings)

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select count(*), sum(amount_minor) from marts.payments").fetchall() == [(1, 1200)]
    # the raw step staged the crashed run's load to judge the copy: the staging step counts it (review)
    assert report["staging/rejected_events"]["new_rows"] == 1
    assert report["staging/stripe_objects"]["loads_staged"] == 2


def test_a_copy_landed_with_a_time_after_one_landed_without_loads_and_wins(kit) -> None:
    # Review: a held copy without `received_at` (hand-written, or an old lake file) made the comparison
    # raise, and every later run failed at its raw step.
    settings = kit.settings()
    landing = kit.landing(settings)
    click_id = "01KJ" + "3" * 26
    clicked = kit.at - timedelta(days=3)
    bare = json.loads(kit.click_line(settings, click_id, "jane-pro", clicked))
    bare.pop("received_at")
    landing.append("clicks", json.dumps(bare) + "\n", name="host-1-0000aaaa")
    kit.run(settings)
    landing.append(
        "clicks", kit.click_line(settings, click_id, "omar-all", clicked, kit.at), name="host-2-0000bbbb"
    )

    kit.run(settings)

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select link_code from marts.clicks").fetchall() == [("omar-all",)]


def test_the_cause_of_an_error_raised_from_none_is_that_error(tmp_path: Path) -> None:
    # Review: a ProgramError raised `from None` was reported as the pydantic error it replaced, which
    # names neither the file nor the entry.
    bad = tmp_path / "program.toml"
    bad.write_text('[[offers]]\nid = "o"\nname = "O"\ntype = "percent"\npercent = "twenty"\n')
    try:
        load_program(bad)
    except ProgramError as exc:
        assert root_cause(exc).startswith(f"ProgramError: {bad}: offers[0]")
    else:
        raise AssertionError("the program file loaded")


def test_the_cause_a_failed_step_names_is_the_error_not_a_generators_end() -> None:
    # Review: an error raised while dlt's generator handled its StopIteration was reported as
    # "StopIteration", the last link of the exception's context.
    def extract() -> None:
        try:
            next(iter([]))
        except StopIteration:
            raise TypeError("'<' not supported between instances of 'datetime' and 'NoneType'") from None

    try:
        try:
            extract()
        except TypeError as inner:
            raise RuntimeError("Pipeline execution failed at step=extract") from inner
    except RuntimeError as exc:
        assert (
            root_cause(exc) == "TypeError: '<' not supported between instances of 'datetime' and 'NoneType'"
        )
