"""Staging new raw loads: every raw stripe_events load decoded once into staging.stripe_objects.

A raw load is staged when a staging file covers it; staging files are named after the raw loads
they hold, so a crash between loading and staging is caught up by the next run. A new
STAGING_VERSION stages everything again from raw into a new folder.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from core.contracts import LANDED_AGAIN_EVENT, REJECTED_EVENT, STRIPE_OBJECT, conform, empty
from core.settings import Settings
from models.exprs import to_utc
from pipelines.lake import Lake, LakeFile, LakeTable
from pipelines.lib.duck import lake_connection, parquet_list
from pipelines.staging.decode import consumed_count_sql, decode_into, decode_sql

OBJECTS, REJECTED = "stripe_objects", "rejected_events"
_RAW_COLUMNS = "event_id, event_type, livemode, created_at, received_at, payload"


def _groups(files: list[LakeFile]) -> list[tuple[str, str, list[LakeFile]]]:
    """Raw files grouped by the load range they hold (a load may span several files)."""
    groups: dict[tuple[str, str], list[LakeFile]] = defaultdict(list)
    for file in files:
        groups[(file.first_load, file.last_load)].append(file)
    return [(first, last, group) for (first, last), group in groups.items()]


def _decode(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """(Re)create the temp table `decoded` (STRIPE_OBJECT columns + problem) from `source`'s raw rows."""
    try:
        con.execute(f"create or replace temp table decoded as {decode_sql(source)}")
    except duckdb.Error:
        # Some row DuckDB cannot decode at all: number the rows and split until it is found.
        con.execute(f"create or replace temp table decoded as {decode_sql(source)} limit 0")
        numbered = f"select row_number() over () - 1 as _row, * from {source}"
        con.execute(f"create or replace temp table numbered as {numbered}")
        count = con.execute("select count(*) from numbered").fetchone()[0]  # type: ignore[index]
        decode_into(con, "numbered", count, "decoded")
        con.execute("drop table numbered")


def _raw_files(files: list[LakeFile]) -> str:
    return f"(select {_RAW_COLUMNS} from read_parquet({parquet_list([f.path for f in files])}))"


def _stage_in_one_pass(
    con: duckdb.DuckDBPyConnection, source: str, objects: LakeTable, name: str
) -> int | None:
    """Decode `source` straight into its staging file when every event it holds decodes (nearly
    always): the number of events staged. None, with nothing written, when some event is to be
    quarantined or DuckDB cannot decode some row: then `_decode` goes row by row through a table.
    The file is kept only when it holds a row for every consumed event (decode_sql gives one row per
    event: none of its rows was left out for a problem), so a staging file never appears without the
    quarantined rows of its load. One pass instead of a table written and read again, and no table of
    every decoded row in DuckDB's memory: staging 1M events took 4.8-5.4 s instead of 6.1 s and
    peaked at 0.60 GB of RSS instead of 0.98 GB (300k: 1.9 s instead of 2.2 s). The price: a load
    holding an event to quarantine is decoded twice (this pass is thrown away)."""
    count = con.execute(consumed_count_sql(source)).fetchone()
    expected = count[0] if count else 0
    columns = ", ".join(STRIPE_OBJECT)

    def complete(file: Path) -> bool:
        rows = con.execute(f"select count(*) from read_parquet('{file}')").fetchone()
        return rows is not None and rows[0] == expected

    query = f"select {columns} from ({decode_sql(source)}) where problem is null"
    try:
        written = objects.write_if(con, query, name, complete)
    except duckdb.Error:
        return None
    return None if written is None else expected


def stage_new(settings: Settings) -> dict[str, Any]:
    """Decode every raw load not staged yet; counts of events staged and quarantined."""
    lake = Lake(settings.lake_dir)
    objects = lake.staging(OBJECTS)
    rejected = lake.staging(REJECTED)
    staged = quarantined = loads = 0
    with lake_connection(settings) as con:
        for first, last, group in _groups(lake.raw("stripe_events").current()):
            if objects.covers(first) and objects.covers(last):
                continue
            name = f"compacted.{first}-{last}.parquet" if first != last else f"{first}.parquet"
            source = _raw_files(group)
            if (good := _stage_in_one_pass(con, source, objects, name)) is not None:
                staged += good
                loads += 1
                continue
            _decode(con, source)
            columns = ", ".join(STRIPE_OBJECT)
            good, bad = con.execute(
                "select count(*) filter (problem is null), count(*) filter (problem is not null) from decoded"
            ).fetchone() or (0, 0)
            if bad:
                reasons = "select event_id, event_type, problem as reason from decoded where problem notnull"
                rejected.write(con, reasons, name)
            objects.write(con, f"select {columns} from decoded where problem is null", name)
            staged += good
            quarantined += bad
            loads += 1
    return {"loads_staged": loads, "events_staged": staged, "events_quarantined": quarantined}


def events_landed_again(settings: Settings) -> pl.DataFrame:
    """raw.stripe_events_landed_again: the copies of an event raw holds besides the one the rules read
    (models/objects.py: the earliest landed that staging decoded; else the earliest), so the view
    shows each event once, the same copy in a run and in a rebuild. Nearly always empty; finding out
    reads raw's event id column (about 0.05 s at 300k events)."""
    lake = Lake(settings.lake_dir)
    raw, staged = lake.raw("stripe_events").paths(), lake.staging(OBJECTS).paths()
    if not raw:
        return empty(LANDED_AGAIN_EVENT)
    staged_copies = (
        f"select distinct event_id, received_at from read_parquet({parquet_list(staged)})"
        if staged
        else "select null::varchar as event_id, null::timestamptz as received_at where false"
    )
    events = f"read_parquet({parquet_list(raw)})"
    query = f"""
with ids as (select event_id from {events} group by event_id having count(*) > 1),
copies as (select event_id, received_at from {events} semi join ids using (event_id)),
decoded as ({staged_copies}),
ranked as (
    select c.event_id, c.received_at, row_number() over (
        partition by c.event_id order by d.event_id is null, c.received_at nulls last
    ) as n
    from copies c left join decoded d
        on c.event_id = d.event_id and c.received_at is not distinct from d.received_at
)
select distinct r.event_id, r.received_at from ranked r
where r.n > 1 and not exists (
    select 1 from ranked k
    where k.n = 1 and k.event_id = r.event_id and k.received_at is not distinct from r.received_at
)
order by all
"""
    with lake_connection(settings) as con:
        return conform(to_utc(con.sql(query).pl()), LANDED_AGAIN_EVENT)


_memory: duckdb.DuckDBPyConnection | None = None


def stage_frame(raw_events: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(staged objects, rejected events) of raw.stripe_events rows in memory: the same decoding as
    `stage_new`, for tests and tools that hold events rather than lake files. Not thread-safe."""
    global _memory
    if _memory is None:
        _memory = duckdb.connect()
        _memory.execute("set timezone = 'UTC'")
    con = _memory
    con.register("raw_frame", raw_events.select(*_RAW_COLUMNS.split(", ")).to_arrow())
    try:
        _decode(con, "(select * from raw_frame)")
        objects = con.sql(f"select {', '.join(STRIPE_OBJECT)} from decoded where problem is null").pl()
        rejected = con.sql(
            "select event_id, event_type, problem as reason from decoded where problem is not null"
        ).pl()
    finally:
        con.unregister("raw_frame")
    return conform(to_utc(objects), STRIPE_OBJECT), conform(rejected, REJECTED_EVENT)
