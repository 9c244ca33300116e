"""Landing records as NDJSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import polars as pl

from core.landing_records import UTC_TIMESTAMP_PARSE_FORMAT, dumps_record, encode_record, utc_timestamp


def test_unicode_line_separators_are_escaped_so_every_record_stays_one_line():
    record = {"text": "a\u2028b\u2029c\x85d é"}

    line = dumps_record(record)

    assert line.count("\n") == 1
    assert len(line.splitlines()) == 1
    assert "é" in line
    assert json.loads(line) == record
    assert encode_record(record) == line.encode()  # the orjson path writes the same line


def test_big_integers_orjson_refuses_take_the_standard_library_path_to_the_same_line():
    record = {"amount": 2**70, "name": "Zoë"}

    assert (
        encode_record(record)
        == dumps_record(record).encode()
        == '{"amount":1180591620717411303424,"name":"Zoë"}\n'.encode()
    )


def test_times_land_as_utc_with_microseconds_and_a_z():
    at = datetime(2026, 11, 27, 9, 30, 0, 5, tzinfo=timezone(timedelta(hours=1)))

    assert utc_timestamp(at) == "2026-11-27T08:30:00.000005Z"
    assert utc_timestamp(at.astimezone(UTC)) == "2026-11-27T08:30:00.000005Z"


def test_the_parse_format_reads_back_exactly_what_utc_timestamp_writes():
    times = [datetime(2026, 11, 27, 8, 30, 0, 5, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)]
    written = pl.Series([utc_timestamp(at) for at in times])

    read = written.str.to_datetime(UTC_TIMESTAMP_PARSE_FORMAT, time_zone="UTC", time_unit="us", strict=True)

    assert read.to_list() == times
