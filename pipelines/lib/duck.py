"""DuckDB connections the pipeline computes with: bounded memory, spilling to the build folder."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from core.settings import Settings


@contextmanager
def lake_connection(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB for reading and writing lake files, within ATTRO_DUCKDB_MEMORY_LIMIT."""
    spill = settings.build_dir / "duckdb-tmp"
    spill.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={
            "memory_limit": settings.duckdb_memory_limit,
            "temp_directory": str(spill),
            "preserve_insertion_order": False,
        }
    )
    try:
        con.execute("set timezone = 'UTC'")
        yield con
    finally:
        con.close()
        with contextlib.suppress(OSError):
            spill.rmdir()  # empty once DuckDB is done; a crashed run's files go with the next run


def parquet_list(paths: Sequence[Path]) -> str:
    """A SQL list literal of file paths, for read_parquet([...])."""
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"
