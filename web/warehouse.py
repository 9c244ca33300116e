"""The published warehouse, read-only: one connection, reopened when a run publishes a new file.

Opening data/warehouse.duckdb costs 30-90 ms here, too much per request. A DuckDB connection keeps
the snapshot it opened after a run renames a new file over it (the old inode lives on while open),
so the file's identity (inode, size, mtime) is checked on every request — a stat — and the file
opened again when it changed. Measured: `duckdb.connect(path)` while an older connection to that
path is alive hands back the OLD database (DuckDB caches instances by path), so each snapshot is
its own in-memory DuckDB with the file ATTACHed read-only. Each request works on its own cursor;
the web never writes and never takes the pipeline's lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

# Page queries are small: one thread each runs them faster here than two (measured on this loaded
# 2-core machine: a top-25 of 55k conversions 21 ms against 44 ms), and leaves a core to other requests.
_CONFIG = {"threads": 1, "memory_limit": "512MB"}


_CATALOG = "published"


def _open_snapshot(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:", config=_CONFIG)
    con.execute("set timezone = 'UTC'")  # times and months as the ledger has them, whatever TZ says
    con.execute(f"attach {_quote(str(path))} as {_CATALOG} (read_only)")
    return con


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class WarehouseMissing(RuntimeError):
    """No published warehouse yet (no successful `attro run`)."""


class PublishedWarehouse:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._identity: tuple[int, int, int, int] | None = None
        self.opened = 0  # how many times a snapshot was opened (tests read it)
        self._memo: dict[str, Any] = {}

    def _current_identity(self) -> tuple[int, int, int, int]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise WarehouseMissing(f"no published warehouse at {self.path}: run `attro run` first") from None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The connection to the file published now (opened again if a run replaced it)."""
        identity = self._current_identity()
        with self._lock:
            if self._con is None or identity != self._identity:
                # the old snapshot is dropped, not closed: a request may still be reading from it
                self._con = _open_snapshot(self.path)
                self._identity = identity
                self._memo = {}
                self.opened += 1
            return self._con

    def memo(self, name: str, compute: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        """`compute(cursor)`, once per published snapshot: what only a run can change (the months
        that have data, the program's affiliates) is not asked again on every page."""
        self.connection()  # opens the new snapshot (with an empty memo) when a run published one
        memo = self._memo
        if name not in memo:
            with self.cursor() as cur:
                memo[name] = compute(cur)
        return memo[name]

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the current snapshot: every query of one page reads the same snapshot."""
        cur = self.connection().cursor()
        cur.execute(f"use {_CATALOG}")  # a cursor starts in the in-memory catalog
        try:
            yield cur
        finally:
            cur.close()


def rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """A query's rows as dicts (pages render a few dozen at a time)."""
    result = cur.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def value(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    row = cur.execute(sql, params or []).fetchone()
    return row[0] if row else None
