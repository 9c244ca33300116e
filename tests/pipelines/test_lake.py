"""The lake's tables read back as the rules take them, whatever shape each file was written in."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import polars as pl
from polars.testing import assert_frame_equal

from pipelines.lake import LakeTable

SCHEMA = {
    "event_id": pl.String,
    "amount": pl.Int64,
    "created_at": pl.Datetime("us", "UTC"),
    "note": pl.String,
}


def test_files_written_before_a_column_or_a_type_changed_read_in_todays_schema(tmp_path):
    table = LakeTable(tmp_path / "staging" / "objects")
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    # an old file: no `note`, `amount` a 32-bit integer, `created_at` without a zone
    table.write(
        con,
        "select 'evt_1' as event_id, 5::integer as amount, timestamp '2026-01-05 10:00:00' as created_at",
        "1.1.parquet",
    )
    # today's shape, with an extra column the schema does not name, in another order
    table.write(
        con,
        "select 'x' as extra, 'hello' as note, timestamptz '2026-02-01 00:00:00+00' as created_at,"
        " 7::bigint as amount, 'evt_2' as event_id",
        "2.1.parquet",
    )
    frame = table.read(SCHEMA).sort("event_id")
    expected = pl.DataFrame(
        {
            "event_id": ["evt_1", "evt_2"],
            "amount": [5, 7],
            "created_at": [datetime(2026, 1, 5, 10, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)],
            "note": [None, "hello"],
        },
        schema=SCHEMA,
    )
    assert_frame_equal(frame, expected)


def test_a_table_with_no_files_reads_as_no_rows_in_its_schema(tmp_path):
    frame = LakeTable(tmp_path / "nothing").read(SCHEMA)
    assert frame.is_empty() and frame.schema == pl.Schema(SCHEMA)
