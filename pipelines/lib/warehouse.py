"""The private build database (one writer), the run lock, and the atomic warehouse publish.

Only the pipeline opens the build database. Analysts open the published copy, which is replaced by
an atomic rename after a successful run: readers keep the snapshot they opened and never see a lock
or a half-built table.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from core.durable import fsync_dir
from core.settings import Settings
from core.state.closed_periods import PeriodError
from models.exprs import to_utc


class PipelineBusyError(RuntimeError):
    """Another run holds the pipeline lock."""


@contextmanager
def pipeline_lock(settings: Settings, wait_seconds: float = 600.0) -> Iterator[None]:
    """One run writes the build database at a time (`attro run`, Dagster runs, tests alike)."""
    settings.build_dir.mkdir(parents=True, exist_ok=True)
    path = settings.build_dir / ".run.lock"
    with path.open("a+") as fh:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    fh.seek(0)
                    raise PipelineBusyError(
                        f"another pipeline run holds {path} ({fh.read().strip() or 'unknown'})"
                    ) from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def connect(settings: Settings, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the build database."""
    settings.build_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.build_db_path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".")
    rows = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return bool(rows[0][0])


def read_table(
    con: duckdb.DuckDBPyConnection, qualified: str, schema: Mapping[str, pl.DataType] | None = None
) -> pl.DataFrame:
    """A table as a Polars frame; empty with `schema` when it does not exist yet."""
    if not table_exists(con, qualified):
        return pl.DataFrame(schema=dict(schema or {}))
    frame = con.sql(f"select * from {qualified}").pl()
    frame = to_utc(frame)
    if schema is None:
        return frame
    return frame.select(
        [(pl.col(n) if n in frame.columns else pl.lit(None)).cast(t).alias(n) for n, t in schema.items()]
    )


def write_tables(con: duckdb.DuckDBPyConnection, tables: Mapping[str, pl.DataFrame]) -> None:
    """Replace tables from frames in one transaction (all or nothing)."""
    con.execute("begin transaction")
    try:
        for qualified, frame in tables.items():
            schema = qualified.split(".")[0]
            con.execute(f"create schema if not exists {schema}")
            con.register("_frame", frame.to_arrow())
            con.execute(f"create or replace table {qualified} as select * from _frame")
            con.unregister("_frame")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def publish(settings: Settings) -> Path:
    """Copy the build database to a temp file beside the warehouse, fsync, and rename it into place."""
    with connect(settings) as con:
        con.execute("checkpoint")
    target = settings.warehouse_path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with settings.build_db_path.open("rb") as src, tmp.open("wb") as dst:
            shutil.copyfileobj(src, dst, length=4 * 1024 * 1024)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(target.parent)
    return target


def read_published_period(settings: Settings, period: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A period's commission lines and statements as the published warehouse has them."""
    path = settings.warehouse_path
    if not path.exists():
        raise PeriodError(f"no published warehouse at {path}: run `attro run` first")
    con = duckdb.connect(str(path), read_only=True)
    try:
        lines = con.sql("select * from marts.commission_lines where period = ?", params=[period]).pl()
        statements = con.sql(
            "select * from marts.affiliate_statements where period = ?", params=[period]
        ).pl()
    finally:
        con.close()
    return to_utc(lines), to_utc(statements)
