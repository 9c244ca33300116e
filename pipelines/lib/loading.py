"""Running the dlt pipelines: landing zone → raw.*, program file → program.* (build database)."""

from __future__ import annotations

import logging
import shutil
from typing import Any

import dlt

from core.program import Program
from core.settings import Settings
from pipelines.lib.warehouse import connect, table_exists
from pipelines.sources.landing import landing_source
from pipelines.sources.program import program_source, program_tables

dlt.config["runtime.dlthub_telemetry"] = False
# dlt notes that the arrow string column differs from the `json` hint on payload: expected here.
logging.getLogger("dlt").setLevel(logging.ERROR)


def _pipeline(settings: Settings, name: str, dataset: str) -> dlt.Pipeline:
    pipelines_dir = settings.build_dir / "dlt"
    if not settings.build_db_path.exists() and pipelines_dir.exists():
        # The build database was deleted: forget the saved offsets, so everything reloads.
        shutil.rmtree(pipelines_dir)
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(settings.build_db_path)),
        dataset_name=dataset,
        pipelines_dir=str(pipelines_dir),
    )


def load_landing(settings: Settings, streams: tuple[str, ...]) -> dict[str, Any]:
    """Load new landing records of `streams`; returns per-stream counts (records, rejected_lines)."""
    stats: dict[str, Any] = {}
    pipeline = _pipeline(settings, "attro_landing", "raw")
    before = _row_counts(settings, streams)
    source = landing_source(settings.landing_dir, streams=streams, stats=stats)
    pipeline.run(source)
    after = _row_counts(settings, streams)
    for stream in streams:
        # records read include redeliveries of keys already in raw; `new` counts rows added
        stats.setdefault(stream, {"records": 0, "rejected_lines": 0, "torn_lines_waiting": 0})
        stats[stream]["new"] = after[stream] - before[stream]
    return stats


def _row_counts(settings: Settings, streams: tuple[str, ...]) -> dict[str, int]:
    if not settings.build_db_path.exists():
        return dict.fromkeys(streams, 0)
    with connect(settings, read_only=True) as con:
        return {
            s: con.sql(f"select count(*) from raw.{s}").fetchall()[0][0]
            if table_exists(con, f"raw.{s}")
            else 0
            for s in streams
        }


def load_program(settings: Settings, program: Program) -> dict[str, int]:
    """Replace the program.* tables with the program file's content; returns each table's rows."""
    tables = program_tables(program)
    pipeline = _pipeline(settings, "attro_program", "program")
    pipeline.run(program_source(tables))
    return {name: table.num_rows for name, table in tables.items()}
