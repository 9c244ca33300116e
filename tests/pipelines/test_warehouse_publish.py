"""The build database helpers, the run lock and the atomic publish of data/warehouse.duckdb."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest

from pipelines.lib.warehouse import (
    PipelineBusyError,
    connect,
    next_path,
    pipeline_lock,
    publish,
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
        told: list[str] = []
        with pytest.raises(PipelineBusyError) as busy, pipeline_lock(settings, 0.5, on_wait=told.append):
            pass
        assert 0.5 <= time.monotonic() - started < 3
        assert str(settings.build_dir / ".run.lock") in str(busy.value) and "pid" in str(busy.value)
        # the waiting one said so once, at once: `attro run` prints it rather than seeming to hang
        assert told == [
            f"another pipeline run (pid {os.getpid()}) holds {settings.build_dir / '.run.lock'}:"
            " waiting for it, 0.5 s at most"
        ]
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


def test_write_tables_stores_the_named_columns_uncompressed_and_keeps_every_value(kit) -> None:
    frame = pl.DataFrame(
        {
            "payment_id": [f"pi_{n:06d}" for n in range(3000)],
            "source_event_ids": [[f"evt_{n}a", f"evt_{n}b"] for n in range(3000)],
            "paid_at": pl.datetime_range(
                datetime(2026, 1, 1, tzinfo=UTC),
                datetime(2026, 1, 1, 0, 49, 59, tzinfo=UTC),
                "1s",
                eager=True,
            ),
            "currency": ["eur"] * 3000,
            "amount_minor": pl.Series(range(3000), dtype=pl.Int64),
        }
    )
    settings = kit.settings()
    with connect(settings, fresh=True) as con:
        write_tables(con, {"marts.payments": frame}, {"marts.payments": ("payment_id", "source_event_ids")})
        con.execute("checkpoint")
        compression = dict(
            con.execute(
                "select column_name, string_agg(distinct compression, ',' order by compression)"
                " from pragma_storage_info('marts.payments') where segment_type = 'VARCHAR'"
                " group by column_name"
            ).fetchall()
        )
        stored = pl.from_arrow(con.sql("select * from marts.payments order by payment_id").to_arrow_table())
    assert compression["payment_id"] == compression["source_event_ids"] == "Uncompressed"
    assert compression["currency"] != "Uncompressed"  # the others as DuckDB chooses
    assert stored.with_columns(pl.col("paid_at").dt.convert_time_zone("UTC")).equals(frame)


def test_write_tables_names_a_column_to_leave_uncompressed_that_the_frame_lacks(kit) -> None:
    with connect(kit.settings(), fresh=True) as con, pytest.raises(ValueError, match="no column invoice_id"):
        write_tables(
            con,
            {"marts.payments": pl.DataFrame({"payment_id": ["in_1"]})},
            {"marts.payments": ["invoice_id"]},
        )


def test_publish_moves_the_next_warehouse_into_place_atomically(kit) -> None:
    settings = kit.settings()
    with connect(settings, fresh=True) as con:
        write_tables(con, {"marts.payments": pl.DataFrame({"payment_id": ["in_1", "pi_2"]})})
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    settings.warehouse_path.write_bytes(b"previous snapshot")
    built = next_path(settings).stat().st_ino

    path = publish(settings)

    assert path == settings.warehouse_path
    assert path.stat().st_ino == built  # renamed, never copied
    assert not next_path(settings).exists()
    reader = duckdb.connect(str(path), read_only=True)
    try:
        assert reader.execute("select count(*) from marts.payments").fetchall() == [(2,)]
    finally:
        reader.close()
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_a_fresh_next_warehouse_starts_empty_whatever_a_crashed_run_left(kit) -> None:
    settings = kit.settings()
    with connect(settings, fresh=True) as con:
        write_tables(con, {"marts.stale": pl.DataFrame({"x": [1]})})
    with connect(settings, fresh=True) as con:
        tables = con.execute("select table_name from information_schema.tables").fetchall()
    assert tables == []
