"""The run lock, the next warehouse being built, and its atomic publish as data/warehouse.duckdb.

A run writes the marts and program tables into a new DuckDB file (data/build/next.duckdb) and adds
views over the lake's current raw and staging Parquet files; publishing renames it over the
warehouse. Readers keep the snapshot they opened and never see a lock or a half-built table; a
publish writes only the marts, never the history in the lake, so it costs what the marts weigh.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import duckdb
import polars as pl

from core.contracts import empty
from core.durable import fsync_dir
from core.settings import Settings
from core.state.closed_periods import PeriodError
from models.exprs import to_utc
from models.money import THREE_DECIMAL, ZERO_DECIMAL
from pipelines.lib.duck import parquet_list


class PipelineBusyError(RuntimeError):
    """Another run holds the pipeline lock."""


@contextmanager
def pipeline_lock(
    settings: Settings, wait_seconds: float = 600.0, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """One run writes the build database at a time (`attro run`, Dagster runs, tests alike); `on_wait`
    hears once that this one waits, and for whom."""
    with exclusive(settings.build_dir / ".run.lock", "pipeline run", wait_seconds, on_wait):
        yield


@contextmanager
def exclusive(
    path: Path, what: str, wait_seconds: float, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the advisory lock `path` (created as needed), waiting up to `wait_seconds` for another
    `what` that holds it; PipelineBusyError when it still holds it then."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        deadline = time.monotonic() + wait_seconds
        tell = on_wait  # once, then None
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PipelineBusyError(
                        f"another {what} holds {path} ({_holder(fh)}), still after waiting;"
                        " try again once it has ended"
                    ) from None
                if tell is not None:
                    holder = _holder(fh)
                    tell(
                        f"another {what} ({holder}) holds {path}: waiting for it, {wait_seconds:g} s at most"
                    )
                    tell = None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _holder(fh: TextIO) -> str:
    """Who holds the lock, as its holder wrote it (`pid N`)."""
    fh.seek(0)
    return fh.read().strip() or "unknown"


# The published file is written in the storage format of DuckDB 1.5, which the `duckdb` command from
# PyPI (duckdb-cli, a project dependency; there is no 2.x) can open: analysts need nothing else.
ANALYST_STORAGE_VERSION = "v1.5.0"


def next_path(settings: Settings) -> Path:
    """The warehouse being built by the current run (never opened by anyone else)."""
    return settings.build_dir / "next.duckdb"


def discard_next(settings: Settings) -> None:
    """Remove a next warehouse (and its write-ahead log) that a crashed or another run left."""
    path = next_path(settings)
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


# Which run the next warehouse belongs to. A Dagster run may hold only some of the graph's steps (a
# selection in the UI, "re-execute from failure"), and the next warehouse may then be another run's:
# one started by a run that crashed, or none (a later run published it). Each step asks whether the
# file is its own run's before it builds on it, publishes it, or checks it.
class Build:
    """The run building the next warehouse, and the inputs it started from (freshness's fingerprint,
    when the run loaded the landing zone itself), kept in data/build/next.json."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.build_dir / "next.json"

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def begin(self, run_id: str, inputs: str | None = None, began_at: datetime | None = None) -> None:
        """Note that `run_id` builds the next warehouse (from `inputs`, when it knows them), and when it
        began reading the landing zone (`began_at`, else now): nothing landed before is left out."""
        self._write(
            {"run": run_id, "inputs": inputs, "began_at": (began_at or datetime.now(UTC)).isoformat()}
        )

    def _write(self, note: dict) -> None:
        self.settings.build_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(note))
        os.replace(tmp, self.path)

    def note_written(self, written: str) -> None:
        """Note the state files runs write as this run read them last (freshness.written_signature)."""
        self._write({**self._read(), "written": written})

    def written(self) -> str | None:
        return self._read().get("written")

    def owner(self, runs: Collection[str]) -> str | None:
        """Which of `runs` (a run and the runs it re-executes) started the next warehouse, if one did
        and the file is there."""
        run = self._read().get("run")
        return run if run in runs and next_path(self.settings).exists() else None

    def inputs(self, runs: Collection[str]) -> str | None:
        """The inputs the build started from, when one of `runs` started it and noted them."""
        found = self._read()
        return found.get("inputs") if found.get("run") in runs else None

    def began_at(self) -> datetime | None:
        """When the run building the next warehouse began (None for a note written before it said)."""
        try:
            return datetime.fromisoformat(self._read()["began_at"])
        except (KeyError, TypeError, ValueError):
            return None

    def end(self) -> None:
        self.path.unlink(missing_ok=True)


@contextmanager
def connect(
    settings: Settings, read_only: bool = False, fresh: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the next warehouse; `fresh` starts it empty (a crashed run's is discarded)."""
    path = next_path(settings)
    settings.build_dir.mkdir(parents=True, exist_ok=True)
    if fresh:
        discard_next(settings)
    config = {} if read_only else {"storage_compatibility_version": ANALYST_STORAGE_VERSION}
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    try:
        con.execute("set timezone = 'UTC'")  # periods and dates are UTC's, whatever TZ says
        yield con
    finally:
        con.close()


def write_tables(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, pl.DataFrame],
    uncompressed: Mapping[str, Collection[str]] | None = None,
) -> None:
    """Replace tables from frames in one transaction (all or nothing). `uncompressed` (table → columns)
    names columns stored without compression: DuckDB compresses when the transaction commits, one
    column after another, and on columns of unique random ids that costs far more time than it
    saves space."""
    con.execute("begin transaction")
    try:
        for qualified, frame in tables.items():
            schema = qualified.split(".")[0]
            con.execute(f"create schema if not exists {schema}")
            con.register("_frame", frame.to_arrow())
            if plain := (uncompressed or {}).get(qualified):
                con.execute(f"create or replace table {qualified} ({_columns_ddl(con, '_frame', plain)})")
                con.execute(f"insert into {qualified} select * from _frame")
            else:
                con.execute(f"create or replace table {qualified} as select * from _frame")
            con.unregister("_frame")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _columns_ddl(con: duckdb.DuckDBPyConnection, relation: str, uncompressed: Collection[str]) -> str:
    """A relation's columns as a table definition, the named ones stored uncompressed."""
    columns = [(name, dtype) for name, dtype, *_ in con.execute(f"describe {relation}").fetchall()]
    if missing := set(uncompressed) - {name for name, _ in columns}:
        raise ValueError(f"no column {', '.join(sorted(missing))} to store uncompressed in {relation}")
    return ", ".join(
        f'"{name}" {dtype}' + (" using compression uncompressed" if name in uncompressed else "")
        for name, dtype in columns
    )


def add_lake_views(
    con: duckdb.DuckDBPyConnection,
    views: Mapping[str, tuple[Sequence[Path], Mapping]],
    defaults: Mapping[str, Mapping[str, str]] | None = None,
    leave_out: Mapping[str, str] | None = None,
) -> None:
    """`schema.table` views over exact lists of Parquet files (what the lake holds now); a table with
    no file yet is an empty table of its contract's columns, so every table exists from the first run.
    `defaults` (table → column → text) fill a column for the rows of files written before it existed;
    `leave_out` (view → table) leaves out the rows that table names by its columns (copies landed
    again), with no join at all while it is empty."""
    for qualified, (files, schema) in views.items():
        con.execute(f"create schema if not exists {qualified.split('.')[0]}")
        if files:
            source = f"read_parquet({parquet_list(files)}, union_by_name = true)"
            columns = {row[0] for row in con.execute(f"describe select * from {source}").fetchall()}
            present, missing = [], []
            for name, value in (defaults or {}).get(qualified, {}).items():
                literal = "'" + value.replace("'", "''") + "'"
                (present if name in columns else missing).append((name, literal))
            replace = (
                " replace (" + ", ".join(f"coalesce({n}, {v}) as {n}" for n, v in present) + ")"
                if present
                else ""
            )
            added = "".join(f", {v} as {n}" for n, v in missing)
            if (left_out := (leave_out or {}).get(qualified)) and _has_rows(con, left_out):
                names = [row[0] for row in con.execute(f"describe {left_out}").fetchall()]
                source += f" anti join {left_out} using ({', '.join(names)})"
            con.execute(f"create or replace view {qualified} as select *{replace}{added} from {source}")
        else:
            con.register("_empty", empty(schema).to_arrow())
            con.execute(f"create or replace table {qualified} as select * from _empty")
            con.unregister("_empty")


def _has_rows(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return con.execute(f"select exists (select 1 from {table})").fetchone() == (True,)


# Lookups readers make one page at a time (attro web's conversions and their ledger lines): an ART index
# finds 25 conversions' lines in 6 ms where a scan of 56k lines took 20 ms (300k events, this machine);
# building both costs about 0.3 s there.
LOOKUP_INDEXES = {
    "marts.commission_lines": "conversion_id",
    "marts.payments": "payment_id",
}


def add_lookup_indexes(con: duckdb.DuckDBPyConnection) -> None:
    for table, column in LOOKUP_INDEXES.items():
        name = f"{table.split('.')[1]}_by_{column}"
        con.execute(f"create index if not exists {name} on {table} ({column})")


def _listed(currencies: Collection[str]) -> str:
    return ", ".join(f"'{currency}'" for currency in sorted(currencies))


# Amounts in a currency's major unit for analysts (jpy 0 decimals, usd 2, kwd 3): dividing by 100.0
# is wrong for a zero- or three-decimal currency, and a DOUBLE. Exact: DECIMAL(38, 3), as the Parquet
# export's amounts; a macro is applied row by row, so `sum(marts.to_major(...))` groups as usual.
MONEY_MACROS = (
    "create or replace macro marts.currency_exponent(currency) as case when currency is null then null"
    f" when lower(currency) in ({_listed(ZERO_DECIMAL)}) then 0"
    f" when lower(currency) in ({_listed(THREE_DECIMAL)}) then 3 else 2 end",
    # the exponent written out again: a macro calling marts.currency_exponent would look for it in the
    # caller's catalog (`attach ... as w` without `use w` has none)
    "create or replace macro marts.to_major(amount_minor, currency) as (amount_minor::decimal(38, 0) * case"
    " when currency is null then null"
    f" when lower(currency) in ({_listed(ZERO_DECIMAL)}) then 1.000"
    f" when lower(currency) in ({_listed(THREE_DECIMAL)}) then 0.001 else 0.010 end)::decimal(38, 3)",
)


def add_money_macros(con: duckdb.DuckDBPyConnection) -> None:
    for sql in MONEY_MACROS:
        con.execute(sql)


def publish(settings: Settings) -> Path:
    """Move the next warehouse into place atomically (fsynced first), as data/warehouse.duckdb."""
    source = next_path(settings)
    with duckdb.connect(str(source)) as con:
        con.execute("checkpoint")
    with source.open("rb") as fh:
        os.fsync(fh.fileno())
    target = settings.warehouse_path
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
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
