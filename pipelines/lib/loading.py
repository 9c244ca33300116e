"""Loading the landing zone with dlt: new landing lines → raw.* Parquet files in the lake.

dlt's working folder (data/build/dlt) holds no truth here: it is emptied before every load, so no
package a crash left half-extracted, half-normalized or half-loaded can wedge a later run. What was
loaded is read from the lake itself: the completed loads' `landing_offsets` rows say where each
landing file was read up to; files of a load that never completed are ignored and swept, and their
lines are read again.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import dlt
import duckdb
import polars as pl
from dlt.common.destination.configuration import ParquetFormatConfiguration

from core.contracts import PRIMARY_KEYS
from core.settings import Settings
from pipelines.lake import Lake
from pipelines.lib.duck import lake_connection, parquet_list
from pipelines.sources.landing import landing_source
from pipelines.sources.landing.settings import STREAMS
from pipelines.staging.decode import UNFIT
from pipelines.staging.stage import OBJECTS, REJECTED, stage_new

PIPELINE_NAME = "attro_landing"


# Raw files in zstd rather than dlt's default snappy: at 300k events a third of the size (the payload
# JSON compresses well) and faster to read back when staging, for the same time to write.
RAW_PARQUET = ParquetFormatConfiguration(compression="zstd")


def _pipeline(settings: Settings) -> dlt.Pipeline:
    pipelines_dir = settings.build_dir / "dlt"
    shutil.rmtree(pipelines_dir, ignore_errors=True)  # nothing in it is needed: see module doc
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=dlt.destinations.filesystem(
            bucket_url=settings.lake_dir.as_uri(),
            parquet_format=RAW_PARQUET,
        ),
        dataset_name="raw",
        pipelines_dir=str(pipelines_dir),
    )
    pipeline.config.restore_from_destination = False
    return pipeline


def loaded_offsets(con: duckdb.DuckDBPyConnection, lake: Lake) -> dict[str, dict[str, int]]:
    """stream → landing file → byte offset after the last line a completed load read."""
    files = lake.raw("landing_offsets").paths()
    offsets: dict[str, dict[str, int]] = {}
    if files:
        rows = con.execute(
            f"select stream, landing_file, max(end_offset) from read_parquet({parquet_list(files)})"
            " group by all"
        ).fetchall()
        for stream, landing_file, end in rows:
            offsets.setdefault(stream, {})[landing_file] = end
    return offsets


class _Fresh:
    """Drops records whose primary key a completed load (or this run) already holds, but a copy landed
    before every copy held (an earlier `received_at`: two processes landed one id, or a retry, and a
    run loaded the later copy first) and an event whose loaded copies staging all quarantined as not
    being that event (a corrupt or forged line): a copy that is the event still loads. A run and a
    rebuild then keep the same copy, the earliest landed, however the landing files were cut into
    chunks and runs (models/clicks.py and models/objects.py choose it; raw views leave the others out)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, lake: Lake, settings: Settings) -> None:
        self.con, self.lake, self.settings = con, lake, settings
        self.seen: dict[str, set[str]] = {}
        # per stream, (key, received_at) of the records this run kept (events: those that are events)
        self.run_kept: dict[str, list[pl.DataFrame]] = {}
        # the raw files of completed loads, listed once: dlt writes this run's only after extracting
        self.files: dict[str, list[Path]] = {}
        self._unfit: set[str] | None = None
        # what `unfit` staged of loads a crashed run left (or all of raw, after a new STAGING_VERSION)
        self.staged_ahead: dict[str, int] = {}

    def unfit(self) -> set[str]:
        """Event ids loaded only as lines whose payload is not that event (read once per run; empty
        unless such a line was ever landed)."""
        if self._unfit is None:
            # a load a crashed run left unstaged: its corrupt copies are known only once staged
            self.staged_ahead = stage_new(self.settings)
            self._unfit = set()
            rejected = self.lake.staging(REJECTED).paths()
            if rejected:
                unfit = " or ".join(f"starts_with(reason, '{reason}')" for reason in UNFIT)
                ids = self.con.execute(
                    f"select distinct event_id from read_parquet({parquet_list(rejected)}) where {unfit}"
                ).fetchall()
                self._unfit = {row[0] for row in ids}
            staged = self.lake.staging(OBJECTS).paths()
            if self._unfit and staged:
                self.con.register("_unfit_ids", pl.DataFrame({"event_id": sorted(self._unfit)}).to_arrow())
                try:
                    fit = self.con.execute(
                        f"select distinct event_id from read_parquet({parquet_list(staged)})"
                        " semi join _unfit_ids using (event_id)"
                    ).fetchall()
                finally:
                    self.con.unregister("_unfit_ids")
                self._unfit -= {row[0] for row in fit}
        return self._unfit

    def __call__(self, stream: str, table: pl.DataFrame) -> pl.DataFrame:
        key = PRIMARY_KEYS[stream]
        seen = self.seen.setdefault(stream, set())
        kept_here = self.run_kept.setdefault(stream, [])
        files = self._raw_files(stream)
        keys = table[key].to_list()
        loaded = self._loaded(key, files, table) if files and table.height else set()
        events = stream == "stripe_events"
        if loaded and events:
            loaded -= self.unfit()
        # A line whose payload is plainly not its event (a corrupt or forged line) takes no id and
        # displaces none: a copy that is the event, read in a later chunk of this run, still loads
        # (staging quarantines the other).
        marked = _plainly_unfit(table) if events else [False] * len(keys)
        if not loaded and seen.isdisjoint(keys):  # nearly every chunk: no id seen before
            kept = table
        else:
            held = self._earliest_held(stream, key, (loaded | seen) & set(keys), files)
            received = table["received_at"].to_list()
            # An id only this run holds was judged by the cheap test (a line damaged mid-payload passes
            # it): a copy a parse finds to be its event loads beside it, later or not, and staging and
            # the rules keep the earliest decoded copy (review: the real event was dropped for good).
            this_run = (seen - loaded) & set(keys) if events else set()
            itself = _parses_as_itself(table, this_run) if this_run else [False] * len(keys)
            # a copy without a landing time (hand-written) never displaces one with it, and is displaced
            # (not a copy landed at the very time of the one held: the views could not tell them apart)
            keep = [
                k not in held
                or (not bad and r is not None and (held[k] is None or r < held[k]))
                or (ok and r is not None and r != held[k])
                for k, r, bad, ok in zip(keys, received, marked, itself, strict=True)
            ]
            kept = table if all(keep) else table.filter(pl.Series(keep, dtype=pl.Boolean))
            marked = [bad for bad, k in zip(marked, keep, strict=True) if k]
        fit = kept if not any(marked) else kept.filter(~pl.Series(marked, dtype=pl.Boolean))
        seen.update(fit[key].to_list())
        kept_here.append(fit.select(key, "received_at"))
        return kept

    def _raw_files(self, stream: str) -> list[Path]:
        """The raw files of completed loads, listed once per run."""
        if stream not in self.files:
            self.files[stream] = self.lake.raw(stream).paths()
        return self.files[stream]

    def _loaded(self, key: str, files: list[Path], table: pl.DataFrame) -> set[str]:
        """The chunk's keys some completed load holds."""
        self.con.register("_chunk_keys", table.select(key).to_arrow())
        try:
            return {
                row[0]
                for row in self.con.execute(
                    f"select {key} from _chunk_keys semi join"
                    f" (select {key} from read_parquet({parquet_list(files)})) using ({key})"
                ).fetchall()
            }
        finally:
            self.con.unregister("_chunk_keys")

    def _earliest_held(self, stream: str, key: str, ids: set[str], files: list[Path]) -> dict[str, Any]:
        """Id → the earliest `received_at` of its copies held: loaded, or kept earlier this run (every
        id asked for is in it; None when no copy has a time). Reads two columns, never a payload."""
        wanted = pl.DataFrame({key: sorted(ids)}, schema={key: pl.String})
        utc = pl.Datetime("us", "UTC")
        frames = [frame.join(wanted, on=key, how="semi") for frame in self.run_kept.get(stream, [])]
        if files:
            self.con.register("_wanted", wanted.to_arrow())
            try:
                query = (
                    f"select {key}, received_at from read_parquet({parquet_list(files)})"
                    f" semi join _wanted using ({key})"
                )
                staged = self.lake.staging(OBJECTS).paths() if stream == "stripe_events" else []
                if staged:  # a copy staging quarantined (corrupt, forged) holds no time
                    self.unfit()  # stages what a crashed run left
                    staged = self.lake.staging(OBJECTS).paths()
                    decoded = (
                        f"select {key}, received_at from read_parquet({parquet_list(staged)})"
                        f" semi join _wanted using ({key})"
                    )
                    query = (
                        f"with d as ({decoded}) select * from d union all select * from ({query}) r"
                        f" where not exists (select 1 from d where d.{key} = r.{key})"
                    )
                rows = self.con.execute(query).fetchall()
                frames.append(pl.DataFrame(rows, schema={key: pl.String, "received_at": utc}, orient="row"))
            finally:
                self.con.unregister("_wanted")
        held = pl.concat(
            [
                wanted.with_columns(received_at=pl.lit(None, utc)),
                *(f.cast({"received_at": utc}) for f in frames),
            ]
        )
        earliest = held.group_by(key).agg(pl.col("received_at").min())
        return dict(earliest.rows())


def _parses_as_itself(events: pl.DataFrame, ids: set[str]) -> list[bool]:
    """Per landed event: its id is one of `ids` and its payload parses to an object of that id (a parse:
    only for the few copies of an id read again in a run, never for every payload)."""
    rows = (
        events.select("event_id", "payload")
        .with_row_index("_row")
        .filter(pl.col("event_id").is_in(list(ids)))
    )
    same = rows.select(
        "_row", ok=pl.col("payload").str.json_path_match("$.id").eq(pl.col("event_id")).fill_null(False)
    )
    found = [False] * events.height
    for row, ok in same.iter_rows():
        found[row] = ok
    return found


def _plainly_unfit(events: pl.DataFrame) -> list[bool]:
    """Per landed event: its payload does not hold its own id, or does not end with `}` (garbage, a
    payload cut short). 0.04 s at 300k events: a search, not a parse."""
    payload = pl.col("payload")
    fit = payload.str.contains(pl.col("event_id"), literal=True) & payload.str.tail(4).str.contains(
        "}", literal=True
    )
    return events.select(~fit.fill_null(False)).to_series().to_list()


def load_landing(settings: Settings, streams: tuple[str, ...] = STREAMS) -> dict[str, Any]:
    """Load new landing records of `streams`; per-stream counts (records, new, rejected_lines, ...), and
    `staged_ahead`: what staging's counts would have said of raw loads staged while judging copies."""
    lake = Lake(settings.lake_dir)
    stats: dict[str, Any] = {}
    with lake_connection(settings) as con:
        offsets = loaded_offsets(con, lake)
        fresh = _Fresh(con, lake, settings)
        source = landing_source(settings.landing_dir, offsets, fresh, streams, stats)
        _pipeline(settings).run(source, loader_file_format="parquet")
    stats["staged_ahead"] = fresh.staged_ahead
    for stream in streams:
        stats.setdefault(stream, {"records": 0, "new": 0, "rejected_lines": 0, "torn_lines_waiting": 0})
    return stats
