"""The build database helpers, the run lock and the atomic publish of data/warehouse.duckdb."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest

from pipelines.lib.warehouse import (
    PipelineBusyError,
    connect,
    pipeline_lock,
    publish,
    read_table,
    write_tables,
)


def test_a_second_run_lock_gives_up_with_pipeline_busy_while_one_is_held(kit) -> None:
    settings = kit.settings()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with pipeline_lock(settings):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(5)
        started = time.monotonic()
        with pytest.raises(PipelineBusyError) as busy, pipeline_lock(settings, wait_seconds=0.5):
            pass
        assert 0.5 <= time.monotonic() - started < 3
        assert str(settings.build_dir / ".run.lock") in str(busy.value) and "pid" in str(busy.value)
    finally:
        release.set()
        thread.join(10)
    with pipeline_lock(settings, wait_seconds=0.5):  # free again once the holder is done
        pass


def test_write_tables_replaces_all_tables_or_none(kit) -> None:
    settings = kit.settings()
    with connect(settings) as con:
        write_tables(con, {"marts.a": pl.DataFrame({"x": [1]}), "marts.b": pl.DataFrame({"y": ["old"]})})
        with pytest.raises(duckdb.Error):
            write_tables(
                con,
                {
                    "marts.b": pl.DataFrame({"y": ["new"]}),
                    "no_such_catalog.marts.c": pl.DataFrame({"z": [1]}),
                },
            )
        assert con.execute("select y from marts.b").fetchall() == [("old",)]
        assert con.execute("select x from marts.a").fetchall() == [(1,)]


def test_read_table_gives_utc_frames_and_an_empty_typed_frame_for_a_missing_table(kit) -> None:
    settings = kit.settings()
    at = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    with connect(settings) as con:
        con.execute("set timezone = 'America/New_York'")
        write_tables(con, {"raw.t": pl.DataFrame({"id": ["a"], "at": [at]})})
        frame = read_table(con, "raw.t")
        missing = read_table(con, "raw.nothing", {"id": pl.String, "n": pl.Int64})
    assert frame.schema["at"] == pl.Datetime("us", "UTC")
    assert frame.to_dicts() == [{"id": "a", "at": at}]
    assert missing.is_empty() and missing.schema == pl.Schema({"id": pl.String, "n": pl.Int64})


def test_publish_copies_the_build_database_into_place_atomically(kit) -> None:
    settings = kit.settings()
    with connect(settings) as con:
        write_tables(con, {"marts.payments": pl.DataFrame({"payment_id": ["in_1", "pi_2"]})})
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    settings.warehouse_path.write_bytes(b"previous snapshot")

    path = publish(settings)

    assert path == settings.warehouse_path
    assert path.stat().st_ino != settings.build_db_path.stat().st_ino  # a copy, never the build file
    reader = duckdb.connect(str(path), read_only=True)
    try:
        assert reader.execute("select count(*) from marts.payments").fetchall() == [(2,)]
    finally:
        reader.close()
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
